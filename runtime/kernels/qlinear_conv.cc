// ConvInteger and QLinearConv (reference kernels), N-D with groups, strides, dilations,
// explicit pads or auto_pad:
//   ConvInteger: Y(i32) = conv(X - x_zp, W - w_zp)
//   QLinearConv: Y = saturate(round((conv(X - x_zp, W - w_zp) + B) * x_scale * w_scale[m] / y_scale) + y_zp)
// Padding contributes zero after the zero point is subtracted (as if X were padded with x_zp).
// Each output position gathers its receptive field into an int16 patch laid out like a
// filter row [C/group, kernel...], so every output value is one exact int32 dot product;
// four patches share each pass over a filter row. Filters are widened once in prepare when
// they are constants.
#include <algorithm>
#include <memory>

#include "runtime/kernel.h"
#include "runtime/kernels/integer_matmul.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_params.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/kernels/quantized_families.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace {

struct ConvGeometry {
  int64_t batch = 1, channels = 1, filters = 1, group = 1;
  Shape in, kernel, out;  // spatial dims
  std::vector<int64_t> stride, dilation, pad_begin;
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
  int64_t group_channels() const { return channels / group; }
  int64_t patch_length() const { return group_channels() * kernel_size; }
};

Result<ConvGeometry> conv_geometry(const ir::Node& node, const Shape& x, const Shape& w, const std::string& where) {
  if (x.size() < 3 || w.size() != x.size())
    return invalid_input(where + ": input " + shape_to_string(x) + " and filter " + shape_to_string(w) +
                         " must both have rank >= 3 and equal ranks");
  ConvGeometry g;
  const size_t spatial = x.size() - 2;
  g.batch = x[0];
  g.channels = x[1];
  g.filters = w[0];
  g.group = node.attr_int("group", 1);
  if (g.group < 1 || g.channels % g.group != 0 || g.filters % g.group != 0 || w[1] * g.group != g.channels)
    return invalid_input(where + ": input " + shape_to_string(x) + " and filter " + shape_to_string(w) +
                         " do not agree with group " + std::to_string(g.group));
  g.in.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  const std::vector<int64_t> kernel_attr = node.attr_ints("kernel_shape");
  if (!kernel_attr.empty() && kernel_attr != g.kernel)
    return invalid_input(where + ": kernel_shape attribute differs from the filter shape " + shape_to_string(w));
  g.stride = node.attr_ints("strides");
  g.dilation = node.attr_ints("dilations");
  std::vector<int64_t> pads = node.attr_ints("pads");
  if (g.stride.empty()) g.stride.assign(spatial, 1);
  if (g.dilation.empty()) g.dilation.assign(spatial, 1);
  if (pads.empty()) pads.assign(2 * spatial, 0);
  if (g.stride.size() != spatial || g.dilation.size() != spatial || pads.size() != 2 * spatial)
    return invalid_input(where + ": strides, dilations or pads do not match " + std::to_string(spatial) + " spatial dims");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  g.pad_begin.assign(spatial, 0);
  g.out.assign(spatial, 0);
  for (size_t j = 0; j < spatial; ++j) {
    if (g.stride[j] < 1 || g.dilation[j] < 1) return invalid_input(where + ": strides and dilations must be >= 1");
    const int64_t extent = (g.kernel[j] - 1) * g.dilation[j] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[j] = (g.in[j] + g.stride[j] - 1) / g.stride[j];
      const int64_t total = std::max<int64_t>(0, (g.out[j] - 1) * g.stride[j] + extent - g.in[j]);
      g.pad_begin[j] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (auto_pad == "VALID") {
      g.out[j] = g.in[j] >= extent ? (g.in[j] - extent) / g.stride[j] + 1 : 0;
    } else if (auto_pad == "NOTSET") {
      g.pad_begin[j] = pads[j];
      const int64_t padded = g.in[j] + pads[j] + pads[j + spatial];
      g.out[j] = padded >= extent ? (padded - extent) / g.stride[j] + 1 : 0;
    } else {
      return invalid_input(where + ": unknown auto_pad '" + auto_pad + "'");
    }
  }
  g.in_size = shape_numel(g.in);
  g.out_size = shape_numel(g.out);
  g.kernel_size = shape_numel(g.kernel);
  return g;
}

// Filters minus their per-filter zero points, int16 [filters, C/group * kernel].
Result<std::vector<int16_t>> pack_filters(const Tensor& w, const Tensor* zp, const std::string& where) {
  if (w.dtype() != DType::kU8 && w.dtype() != DType::kI8)
    return invalid_input(where + ": filter must be u8 or i8, got " + std::string(dtype_name(w.dtype())));
  const int64_t filters = w.rank() > 0 ? w.dim(0) : 0;
  const int64_t length = filters > 0 ? w.numel() / filters : 0;
  std::vector<int32_t> zero_points(static_cast<size_t>(filters), 0);
  if (zp) {
    if (zp->dtype() != w.dtype()) return invalid_input(where + ": filter zero point must have the filter's type");
    EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> v, read_int_params(*zp, where, "filter zero point"));
    if (v.size() == 1)
      std::fill(zero_points.begin(), zero_points.end(), v[0]);
    else if (static_cast<int64_t>(v.size()) == filters && zp->rank() == 1)
      zero_points = v;
    else
      return invalid_input(where + ": filter zero point must be a scalar or have shape [" + std::to_string(filters) +
                           "], got " + shape_to_string(zp->shape()));
  }
  std::vector<int16_t> packed(static_cast<size_t>(filters * length));
  for (int64_t m = 0; m < filters; ++m)
    widen_row_i16(w.dtype(), w.raw(), m * length, length, zero_points[size_t(m)], packed.data() + m * length);
  return packed;
}

// Called with acc[0 .. count) for filter m of image n at output positions p0 .. p0 + count.
using ConvSink = std::function<void(int64_t n, int64_t m, int64_t p0, int64_t count, const int32_t* acc)>;

// Integer convolution of X (u8/i8) minus x_zero_point with the packed filters.
void integer_conv(const Tensor& x, int32_t x_zero_point, const std::vector<int16_t>& filters, const ConvGeometry& g,
                  const ConvSink& sink) {
  const size_t spatial = g.in.size();
  const int64_t cg = g.group_channels(), fg = g.filters / g.group, length = g.patch_length();
  // Per kernel position: the offset of each spatial dim (k_j * dilation_j).
  std::vector<int64_t> kernel_offsets(static_cast<size_t>(g.kernel_size) * spatial);
  for (int64_t kk = 0; kk < g.kernel_size; ++kk) {
    int64_t rem = kk;
    for (size_t j = spatial; j-- > 0;) {
      kernel_offsets[size_t(kk) * spatial + j] = (rem % g.kernel[j]) * g.dilation[j];
      rem /= g.kernel[j];
    }
  }
  const std::vector<int64_t> in_strides = contiguous_strides(g.in);
  std::vector<int16_t> image(static_cast<size_t>(cg * g.in_size));
  const int64_t tiles = (g.out_size + kRowBlock - 1) / kRowBlock;
  const int64_t tile_work = std::max<int64_t>(kRowBlock * length * fg, 1);

  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t grp = 0; grp < g.group; ++grp) {
      widen_row_i16(x.dtype(), x.raw(), (n * g.channels + grp * cg) * g.in_size, cg * g.in_size, x_zero_point,
                    image.data());
      parallel_for(tiles, std::max<int64_t>(1, 65536 / tile_work), [&](int64_t begin, int64_t end) {
        std::vector<int16_t> patches(static_cast<size_t>(kRowBlock * length));
        std::vector<int64_t> source(static_cast<size_t>(g.kernel_size));
        std::vector<int64_t> base(spatial);
        std::vector<int32_t> acc(static_cast<size_t>(kRowBlock * fg));
        for (int64_t tile = begin; tile < end; ++tile) {
          const int64_t p0 = tile * kRowBlock, count = std::min(kRowBlock, g.out_size - p0);
          const int16_t* rows[kRowBlock];
          for (int64_t r = 0; r < kRowBlock; ++r) {
            rows[r] = patches.data() + std::min(r, count - 1) * length;  // short tiles repeat the last patch
            if (r >= count) continue;
            int64_t rem = p0 + r;
            for (size_t j = spatial; j-- > 0;) {
              base[j] = (rem % g.out[j]) * g.stride[j] - g.pad_begin[j];
              rem /= g.out[j];
            }
            for (int64_t kk = 0; kk < g.kernel_size; ++kk) {
              int64_t offset = 0;
              for (size_t j = 0; j < spatial && offset >= 0; ++j) {
                const int64_t c = base[j] + kernel_offsets[size_t(kk) * spatial + j];
                offset = (c < 0 || c >= g.in[j]) ? -1 : offset + c * in_strides[j];
              }
              source[size_t(kk)] = offset;
            }
            int16_t* patch = patches.data() + r * length;
            for (int64_t c = 0; c < cg; ++c) {
              const int16_t* channel = image.data() + c * g.in_size;
              for (int64_t kk = 0; kk < g.kernel_size; ++kk) {
                const int64_t src = source[size_t(kk)];
                patch[c * g.kernel_size + kk] = src < 0 ? int16_t{0} : channel[src];
              }
            }
          }
          int32_t out[kRowBlock];
          for (int64_t f = 0; f < fg; ++f) {
            dot4_i16(rows, filters.data() + (grp * fg + f) * length, length, out);
            for (int64_t r = 0; r < count; ++r) acc[size_t(f * kRowBlock + r)] = out[r];
          }
          for (int64_t f = 0; f < fg; ++f) sink(n, grp * fg + f, p0, count, acc.data() + f * kRowBlock);
        }
      });
    }
}

// Filters packed in prepare when W and its zero point are constants.
class ConvFilters {
 public:
  ConvFilters(size_t w_index, size_t zp_index) : w_index_(w_index), zp_index_(zp_index) {}
  Status prepare(const PrepareContext& ctx) {
    const Tensor* w = ctx.constant(w_index_);
    const bool zp_given = ctx.node.has_input(zp_index_);
    const Tensor* zp = zp_given ? ctx.constant(zp_index_) : nullptr;
    if (!w || (zp_given && !zp)) return Status::Ok();
    EMBER_ASSIGN_OR_RETURN(packed_, pack_filters(*w, zp, "node '" + ctx.node.name + "' (" + ctx.node.op_type + ")"));
    prepared_ = true;
    return Status::Ok();
  }
  Result<const std::vector<int16_t>*> get(const RunContext& ctx, std::vector<int16_t>& scratch) const {
    if (prepared_) return &packed_;
    EMBER_ASSIGN_OR_RETURN(scratch, pack_filters(ctx.input(w_index_),
                                                 ctx.has_input(zp_index_) ? &ctx.input(zp_index_) : nullptr, ctx.where()));
    return &scratch;
  }

 private:
  size_t w_index_, zp_index_;
  bool prepared_ = false;
  std::vector<int16_t> packed_;
};

Result<int32_t> scalar_zero_point(const RunContext& ctx, size_t index, DType data_dtype, const std::string& what) {
  if (!ctx.has_input(index)) return 0;
  const Tensor& zp = ctx.input(index);
  if (zp.dtype() != data_dtype || zp.numel() != 1)
    return invalid_input(ctx.where() + ": " + what + " must be a scalar of type " + std::string(dtype_name(data_dtype)) +
                         ", got " + std::string(dtype_name(zp.dtype())) + " " + shape_to_string(zp.shape()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> v, read_int_params(zp, ctx.where(), what));
  return v[0];
}

Status check_data(const RunContext& ctx, const Tensor& x) {
  if (x.dtype() != DType::kU8 && x.dtype() != DType::kI8)
    return invalid_input(ctx.where() + ": input must be u8 or i8, got " + std::string(dtype_name(x.dtype())));
  return Status::Ok();
}

Shape output_shape(const ConvGeometry& g) {
  Shape s{g.batch, g.filters};
  s.insert(s.end(), g.out.begin(), g.out.end());
  return s;
}

class ConvIntegerKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override { return filters_.prepare(ctx); }
  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    EMBER_TRY(check_data(ctx, x));
    EMBER_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(ctx.node, x.shape(), ctx.input(1).shape(), ctx.where()));
    EMBER_ASSIGN_OR_RETURN(int32_t x_zp, scalar_zero_point(ctx, 2, x.dtype(), "x_zero_point"));
    std::vector<int16_t> scratch;
    EMBER_ASSIGN_OR_RETURN(const std::vector<int16_t>* filters, filters_.get(ctx, scratch));
    int32_t* y = ctx.allocate_output(0, DType::kI32, output_shape(g)).mutable_data<int32_t>();
    const int64_t P = g.out_size, M = g.filters;
    integer_conv(x, x_zp, *filters, g, [&](int64_t n, int64_t m, int64_t p0, int64_t count, const int32_t* acc) {
      std::copy(acc, acc + count, y + (n * M + m) * P + p0);
    });
    return Status::Ok();
  }

 private:
  ConvFilters filters_{1, 3};
};

class QLinearConvKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override { return filters_.prepare(ctx); }
  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& x = ctx.input(0);
    EMBER_TRY(check_data(ctx, x));
    EMBER_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(ctx.node, x.shape(), ctx.input(3).shape(), where));
    EMBER_ASSIGN_OR_RETURN(int32_t x_zp, scalar_zero_point(ctx, 2, x.dtype(), "x_zero_point"));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> x_scale, read_float_params(ctx.input(1), where, "x_scale"));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> w_scale, read_float_params(ctx.input(4), where, "w_scale"));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> y_scale, read_float_params(ctx.input(6), where, "y_scale"));
    if (x_scale.size() != 1 || y_scale.size() != 1) return invalid_input(where + ": x_scale and y_scale must be scalars");
    if (w_scale.size() != 1 && static_cast<int64_t>(w_scale.size()) != g.filters)
      return invalid_input(where + ": w_scale must be a scalar or have " + std::to_string(g.filters) + " elements, got " +
                           shape_to_string(ctx.input(4).shape()));
    const DType out_dtype = ctx.has_input(7) ? ctx.input(7).dtype() : x.dtype();
    if (out_dtype != DType::kU8 && out_dtype != DType::kI8) return unsupported_dtype(ctx, out_dtype);
    EMBER_ASSIGN_OR_RETURN(int32_t y_zp, scalar_zero_point(ctx, 7, out_dtype, "y_zero_point"));
    std::vector<int32_t> bias(static_cast<size_t>(g.filters), 0);
    if (ctx.has_input(8)) {
      const Tensor& b = ctx.input(8);
      if (b.dtype() != DType::kI32 || b.numel() != g.filters)
        return invalid_input(where + ": bias must be i32 with " + std::to_string(g.filters) + " elements");
      std::copy(b.data<int32_t>(), b.data<int32_t>() + g.filters, bias.begin());
    }
    std::vector<float> multiplier(static_cast<size_t>(g.filters));
    for (int64_t m = 0; m < g.filters; ++m)
      multiplier[size_t(m)] = x_scale[0] * w_scale[w_scale.size() == 1 ? 0 : size_t(m)] / y_scale[0];
    std::vector<int16_t> scratch;
    EMBER_ASSIGN_OR_RETURN(const std::vector<int16_t>* filters, filters_.get(ctx, scratch));
    Tensor& out = ctx.allocate_output(0, out_dtype, output_shape(g));
    const int32_t lo = out_dtype == DType::kU8 ? 0 : -128, hi = out_dtype == DType::kU8 ? 255 : 127;
    const int64_t P = g.out_size, M = g.filters;
    integer_conv(x, x_zp, *filters, g, [&](int64_t n, int64_t m, int64_t p0, int64_t count, const int32_t* acc) {
      const int64_t base = (n * M + m) * P + p0;
      for (int64_t i = 0; i < count; ++i) {
        const int32_t q = quantize_double(double(acc[i] + bias[size_t(m)]) * double(multiplier[size_t(m)]), y_zp, lo, hi);
        if (out_dtype == DType::kU8)
          out.mutable_data<uint8_t>()[base + i] = static_cast<uint8_t>(q);
        else
          out.mutable_data<int8_t>()[base + i] = static_cast<int8_t>(q);
      }
    });
    return Status::Ok();
  }

 private:
  ConvFilters filters_{3, 5};
};

}  // namespace

void register_qlinear_conv_kernels(KernelRegistry& registry) {
  registry.add("ConvInteger", "", 10, [] { return std::make_unique<ConvIntegerKernel>(); });
  registry.add("QLinearConv", "", 10, [] { return std::make_unique<QLinearConvKernel>(); });
}

}  // namespace ember::runtime
