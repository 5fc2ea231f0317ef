// Operators added in opsets 18-20, by their ONNX definitions:
//   BitwiseAnd/Or/Xor (broadcast) and BitwiseNot, on integers
//   CenterCropPad: each listed axis cropped (centred, extra on the far side... as the reference:
//     start = (in - out) / 2) or zero-padded (start = (out - in) / 2) to the given shape
//   GroupNormalization (18, 21): mean and variance over each group of channels and the spatial
//     dims; scale/bias per group (18) or per channel (21)
//   Col2Im: sums the columns [N, C * prod(block), L] back into the image (the adjoint of im2col)
//   AffineGrid (20): the sampling grid theta @ [x, y, (z), 1] over normalised coordinates
#include <cmath>
#include <cstring>

#include "ir/memory_limits.h"
#include "runtime/kernels/col2im_plan.h"
#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/unary_kernel.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

template <int kOp>  // 0 and, 1 or, 2 xor
Status run_bitwise(RunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(Tensor * out, begin_binary(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return dispatch_types<TypeSet::kInteger>(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    broadcast_binary<T, T, T>(a, b, *out, [](T x, T y) -> T { return static_cast<T>(kOp == 0 ? (x & y) : kOp == 1 ? (x | y) : (x ^ y)); });
  });
}

Status run_bitwise_not(RunContext& ctx) {
  return run_map<TypeSet::kInteger>(ctx, [](auto x) -> decltype(x) { return static_cast<decltype(x)>(~x); });
}

Status run_center_crop_pad(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> shape, read_indices(ctx, 1));
  std::vector<int64_t> axes_attr = ctx.node.attr_ints("axes");
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes, normalize_axes(axes_attr, x.rank(), ctx.where()));
  if (axes_attr.empty())
    for (int d = 0; d < x.rank(); ++d) axes.push_back(d);
  if (shape.size() != axes.size()) return invalid_input(ctx.where() + ": shape must have one value per axis");
  const int bits = traits(x.dtype()).bits;
  if (bits == 0 || bits % 8) return invalid_input(ctx.where() + ": element type not supported");
  Shape out = x.shape();
  std::vector<int64_t> src_start(size_t(x.rank()), 0), dst_start(size_t(x.rank()), 0), extent = x.shape();
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t d = size_t(axes[i]);
    if (shape[i] < 0) return invalid_input(ctx.where() + ": negative target size");
    out[d] = shape[i];
    if (shape[i] <= x.dim(int(d))) src_start[d] = (x.dim(int(d)) - shape[i]) / 2, extent[d] = shape[i];
    else dst_start[d] = (shape[i] - x.dim(int(d))) / 2;
  }
  EMBER_TRY(check_output_shape(ctx.where(), x.dtype(), out));
  Tensor& y = ctx.allocate_output(0, x.dtype(), out);
  std::memset(y.raw_mutable(), 0, y.nbytes());
  const size_t es = size_t(bits / 8);
  const int64_t total = shape_numel(Shape(extent.begin(), extent.end()));
  std::vector<int64_t> idx(size_t(x.rank()), 0);
  for (int64_t k = 0; k < total; ++k) {
    int64_t s = 0, t = 0;
    for (int d = 0; d < x.rank(); ++d) {
      s = s * x.dim(d) + src_start[size_t(d)] + idx[size_t(d)];
      t = t * out[size_t(d)] + dst_start[size_t(d)] + idx[size_t(d)];
    }
    std::memcpy(static_cast<uint8_t*>(y.raw_mutable()) + size_t(t) * es, static_cast<const uint8_t*>(x.raw()) + size_t(s) * es, es);
    for (int d = x.rank() - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < extent[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
  return Status::Ok();
}

class GroupNormKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    opset_ = ctx.opset;
    return Status::Ok();
  }
  Status run(RunContext& ctx) override {
    EMBER_TRY(require_inputs(ctx, 3, 3));
    const Tensor& x = ctx.input(0);
    const Tensor& scale = ctx.input(1);
    const Tensor& bias = ctx.input(2);
    const int64_t groups = ctx.node.attr_int("num_groups", 0);
    const double eps = ctx.node.attr_float("epsilon", 1e-5f);
    if (x.dtype() != DType::kF32 || x.rank() < 2 || groups <= 0 || x.dim(1) % groups)
      return invalid_input(ctx.where() + ": X must be float [N, C, ...] with C a multiple of num_groups");
    const int64_t n = x.dim(0), c = x.dim(1), per_group = c / groups, spatial = x.numel() / std::max<int64_t>(1, n * c);
    const bool per_channel = opset_ >= 21;
    if (scale.numel() != (per_channel ? c : groups) || bias.numel() != scale.numel())
      return invalid_input(ctx.where() + ": scale and bias must have one value per " + (per_channel ? "channel" : "group"));
    Tensor& y = ctx.allocate_output(0, DType::kF32, x.shape());
    for (int64_t b = 0; b < n; ++b)
      for (int64_t g = 0; g < groups; ++g) {
        const float* src = x.data<float>() + (b * c + g * per_group) * spatial;
        float* dst = y.mutable_data<float>() + (b * c + g * per_group) * spatial;
        const int64_t count = per_group * spatial;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < count; ++i) mean += src[i];
        mean /= double(count);
        for (int64_t i = 0; i < count; ++i) var += (src[i] - mean) * (src[i] - mean);
        const double inv = 1.0 / std::sqrt(var / double(count) + eps);
        for (int64_t ch = 0; ch < per_group; ++ch) {
          const int64_t k = per_channel ? g * per_group + ch : g;
          for (int64_t i = 0; i < spatial; ++i)
            dst[ch * spatial + i] = float((src[ch * spatial + i] - mean) * inv * scale.data<float>()[k] + bias.data<float>()[k]);
        }
      }
    return Status::Ok();
  }

 private:
  int64_t opset_ = 18;
};

Status run_col2im(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 3, 3));
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> image, read_indices(ctx, 1));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> block, read_indices(ctx, 2));
  if (x.dtype() != DType::kF32 || x.rank() != 3)
    return invalid_input(ctx.where() + ": input must be float [N, C * prod(block), L] with image and block shapes of one rank");
  EMBER_ASSIGN_OR_RETURN(const Col2ImPlan plan, plan_col2im(ctx.node, image, block, x.dim(1), x.dim(2), ctx.where()));
  const int64_t n = x.dim(0), c = x.dim(1) / plan.kernel;
  Shape out = {n, c};
  out.insert(out.end(), image.begin(), image.end());
  EMBER_TRY(check_output_shape(ctx.where(), DType::kF32, out));
  Tensor& y = ctx.allocate_output(0, DType::kF32, out);
  std::memset(y.raw_mutable(), 0, y.nbytes());
  for (int64_t bc = 0; bc < n * c; ++bc) {
    float* dst = y.mutable_data<float>() + bc * plan.plane;
    const float* src = x.data<float>() + bc * plan.kernel * plan.blocks;
    plan.for_each_tap([&](int64_t column, int64_t pixel) { dst[pixel] += src[column]; });
  }
  return Status::Ok();
}

Status run_affine_grid(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& theta = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> size, read_indices(ctx, 1));
  const bool align = ctx.node.attr_int("align_corners", 0) != 0;
  const int64_t r = int64_t(size.size()) - 2;
  if (theta.dtype() != DType::kF32 || (r != 2 && r != 3) || theta.rank() != 3 || theta.dim(1) != r || theta.dim(2) != r + 1)
    return invalid_input(ctx.where() + ": theta must be float [N, r, r + 1] with size [N, C, spatial of rank r]");
  Shape out = {size[0]};
  for (int64_t d = 0; d < r; ++d) out.push_back(size[size_t(2 + d)]);
  out.push_back(r);
  EMBER_TRY(check_output_shape(ctx.where(), DType::kF32, out));  // the product below cannot overflow now
  int64_t points = 1;
  for (int64_t d = 0; d < r; ++d) points *= size[size_t(2 + d)];
  Tensor& y = ctx.allocate_output(0, DType::kF32, out);
  auto coord = [&](int64_t i, int64_t len) {  // normalised position of index i along an axis of length len
    if (align) return len > 1 ? -1.0 + 2.0 * double(i) / double(len - 1) : 0.0;
    return (2.0 * double(i) + 1.0) / double(len) - 1.0;
  };
  for (int64_t b = 0; b < size[0]; ++b)
    for (int64_t p = 0; p < points; ++p) {
      std::vector<double> base(size_t(r + 1), 1.0);  // x, y, (z) innermost first, then 1
      int64_t rest = p;
      for (int64_t d = r - 1; d >= 0; --d) {
        const int64_t len = size[size_t(2 + d)];
        base[size_t(r - 1 - d)] = coord(rest % len, len);
        rest /= len;
      }
      const float* t = theta.data<float>() + b * r * (r + 1);
      for (int64_t k = 0; k < r; ++k) {
        double v = 0;
        for (int64_t j = 0; j <= r; ++j) v += double(t[k * (r + 1) + j]) * base[size_t(j)];
        y.mutable_data<float>()[(b * points + p) * r + k] = float(v);
      }
    }
  return Status::Ok();
}

}  // namespace

void register_opset18_kernels(KernelRegistry& registry) {
  registry.add_function("BitwiseAnd", "", 18, run_bitwise<0>);
  registry.add_function("BitwiseOr", "", 18, run_bitwise<1>);
  registry.add_function("BitwiseXor", "", 18, run_bitwise<2>);
  registry.add_function("BitwiseNot", "", 18, run_bitwise_not);
  registry.add_function("CenterCropPad", "", 18, run_center_crop_pad);
  registry.add("GroupNormalization", "", 18, [] { return std::make_unique<GroupNormKernel>(); });
  registry.add_function("Col2Im", "", 18, run_col2im);
  registry.add_function("AffineGrid", "", 20, run_affine_grid);
}

}  // namespace ember::runtime
