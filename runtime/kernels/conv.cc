// Conv and ConvTranspose for 1-D, 2-D and 3-D (any number of spatial axes), with groups,
// strides, dilations, explicit pads or auto_pad, and an optional bias. Both lower to GEMM
// per image and group through im2col / col2im (runtime/kernels/im2col.h); float runs on
// sgemm, double on the plain loop. Constant float weights are packed once in prepare and
// the batch runs as one GEMM per group (runtime/kernels/conv_packed.h); otherwise pointwise
// convolutions (1x1, stride 1, no padding) skip im2col (the input already is the column
// matrix) and the weights are the left operand of a per-image GEMM. f16/bf16 inputs are
// widened to f32 and run through a fresh kernel (half_fallback.h).
#include <algorithm>
#include <vector>

#include "ir/dtype_dispatch.h"
#include "runtime/kernels/conv_packed.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/im2col.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/typed_gemm.h"
#include "runtime/kernels/window_geometry.h"

namespace ember::runtime {
namespace {

// Bounds the column buffer: a slice of output positions whose columns fit ~16 MB of floats,
// but never so thin that the GEMM degenerates.
int64_t column_chunk(int64_t rows, int64_t positions) {
  constexpr int64_t kBudget = int64_t{4} << 20;
  const int64_t chunk = std::max<int64_t>(256, kBudget / std::max<int64_t>(rows, 1));
  return std::min(chunk, std::max<int64_t>(positions, 1));
}

template <class F>
Status dispatch_conv_dtype(const RunContext& ctx, DType d, F&& f) {
  if (d == DType::kF32) f(float{});
  else if (d == DType::kF64) f(double{});
  else return unsupported_dtype(ctx, d);
  return Status::Ok();
}

// The inputs every convolution shares: X [N, C, spatial...], W [_, _, kernel...], optional B [M].
struct ConvOperands {
  const Tensor* x;
  const Tensor* w;
  const Tensor* bias;  // nullptr when omitted
  std::vector<int64_t> spatial;  // X's spatial sizes
  std::vector<int64_t> kernel;   // W's spatial sizes
};

Result<ConvOperands> read_operands(const RunContext& ctx, const WindowAttrs& attrs) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return invalid_input(ctx.where() + ": needs inputs X and W");
  ConvOperands op{&ctx.input(0), &ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr, {}, {}};
  const Tensor& x = *op.x;
  const Tensor& w = *op.w;
  if (x.rank() < 3) return invalid_input(ctx.where() + ": X must be [N, C, spatial...], got " + shape_to_string(x.shape()));
  if (w.rank() != x.rank())
    return invalid_input(ctx.where() + ": W " + shape_to_string(w.shape()) + " must have the rank of X " +
                         shape_to_string(x.shape()));
  if (w.dtype() != x.dtype() || (op.bias && op.bias->dtype() != x.dtype()))
    return invalid_input(ctx.where() + ": X, W and B must share one element type");
  op.spatial.assign(x.shape().begin() + 2, x.shape().end());
  op.kernel.assign(w.shape().begin() + 2, w.shape().end());
  if (!attrs.kernel_shape.empty() && attrs.kernel_shape != op.kernel)
    return invalid_input(ctx.where() + ": kernel_shape does not match W " + shape_to_string(w.shape()));
  return op;
}

Status check_bias(const RunContext& ctx, const Tensor* bias, int64_t channels) {
  if (!bias || (bias->rank() == 1 && bias->dim(0) == channels)) return Status::Ok();
  return invalid_input(ctx.where() + ": B must be [" + std::to_string(channels) + "], got " +
                       shape_to_string(bias->shape()));
}

template <class T>
void add_bias(const Tensor* bias, int64_t batch, int64_t channels, int64_t plane, T* y) {
  if (!bias) return;
  const T* b = bias->data<T>();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      T* row = y + (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i) row[i] += b[c];
    }
}

// Runs a freshly prepared kernel on widened f16/bf16 inputs.
template <class K>
Status run_fresh(RunContext& ctx) {
  K kernel;
  EMBER_TRY(kernel.prepare(PrepareContext{ctx.node, 1 << 20, {}}));
  return kernel.run(ctx);
}

// ---------------------------------------------------------------------------------------------
// Conv: Y[n, g*M/g + m] = W_g[m] . im2col(X[n, g*C/g .. (g+1)*C/g])

class ConvKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(attrs_, read_window_attrs(ctx.node));
    attrs_.ceil_mode = false;  // Conv has no ceil_mode
    group_ = ctx.node.attr_int("group", 1);
    if (group_ < 1) return invalid_input("attribute group must be >= 1, got " + std::to_string(group_));
    const Tensor* w = ctx.constant(1);
    if (w && w->dtype() == DType::kF32 && w->rank() >= 3 && w->numel() > 0 && w->dim(0) % group_ == 0)
      packed_.pack(*w, group_);
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(ConvOperands op, read_operands(ctx, attrs_));
    if (is_half_dtype(op.x->dtype())) return run_widened_to_f32(ctx, run_fresh<ConvKernel>);
    const Tensor& x = *op.x;
    const Tensor& w = *op.w;
    const int64_t batch = x.dim(0), channels = x.dim(1), maps = w.dim(0);
    if (w.dim(1) * group_ != channels || maps % group_ != 0)
      return invalid_input(ctx.where() + ": X " + shape_to_string(x.shape()) + " and W " + shape_to_string(w.shape()) +
                           " do not agree with group " + std::to_string(group_) +
                           " (needs C == W[1] * group and W[0] divisible by group)");
    EMBER_TRY(check_bias(ctx, op.bias, maps));
    EMBER_ASSIGN_OR_RETURN(WindowGeometry g, resolve_window(attrs_, op.spatial, op.kernel, ctx.where()));
    Shape out_shape{batch, maps};
    out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return Status::Ok();
    if (x.dtype() == DType::kF32 && packed_.applies(w, g)) {
      packed_.run(x.data<float>(), batch, channels, op.bias ? op.bias->data<float>() : nullptr, g, ctx.allocator,
                  y.mutable_data<float>());
      return Status::Ok();
    }

    return dispatch_conv_dtype(ctx, x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cg = channels / group_, mg = maps / group_;
      const int64_t rows = cg * g.kernel_size(), positions = g.out_size(), in_plane = g.in_size();
      bool pointwise = g.kernel_size() == 1;
      for (int a = 0; a < g.rank(); ++a)
        pointwise = pointwise && g.stride[static_cast<size_t>(a)] == 1 && g.pad_begin[static_cast<size_t>(a)] == 0 &&
                    g.pad_end[static_cast<size_t>(a)] == 0;
      const int64_t chunk = pointwise ? positions : column_chunk(rows, positions);
      Tensor scratch;
      if (!pointwise) scratch = ctx.allocator.allocate(x.dtype(), {rows * chunk});
      const T* px = x.data<T>();
      const T* pw = w.data<T>();
      T* py = y.mutable_data<T>();
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t grp = 0; grp < group_; ++grp) {
          const T* x_ng = px + (n * channels + grp * cg) * in_plane;
          const T* w_g = pw + grp * mg * rows;
          T* y_ng = py + (n * maps + grp * mg) * positions;
          for (int64_t p0 = 0; p0 < positions; p0 += chunk) {
            const int64_t p1 = std::min(positions, p0 + chunk);
            if (pointwise) {
              typed_gemm<T>(false, false, mg, p1 - p0, rows, 1.0, w_g, rows, x_ng + p0, in_plane, 0.0, y_ng + p0,
                            positions);
            } else {
              T* col = scratch.mutable_data<T>();
              im2col(x_ng, cg, g, p0, p1, col);
              typed_gemm<T>(false, false, mg, p1 - p0, rows, 1.0, w_g, rows, col, p1 - p0, 0.0, y_ng + p0, positions);
            }
          }
        }
      add_bias<T>(op.bias, batch, maps, positions, py);
    });
  }

 private:
  WindowAttrs attrs_;
  int64_t group_ = 1;
  PackedConv packed_;  // constant f32 weights, packed once
};

// ---------------------------------------------------------------------------------------------
// ConvTranspose: col = W_g^T * X[n, group g], then col2im scatters col into Y[n, group g].
// Output size per axis: stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pads;
// with output_shape or SAME_* the total padding follows from the requested size.

class ConvTransposeKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(attrs_, read_window_attrs(ctx.node));
    group_ = ctx.node.attr_int("group", 1);
    if (group_ < 1) return invalid_input("attribute group must be >= 1, got " + std::to_string(group_));
    output_padding_ = ctx.node.attr_ints("output_padding");
    output_shape_ = ctx.node.attr_ints("output_shape");
    for (int64_t v : output_padding_)
      if (v < 0) return invalid_input("attribute output_padding must be non-negative");
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(ConvOperands op, read_operands(ctx, attrs_));
    if (is_half_dtype(op.x->dtype())) return run_widened_to_f32(ctx, run_fresh<ConvTransposeKernel>);
    const Tensor& x = *op.x;
    const Tensor& w = *op.w;
    const int64_t batch = x.dim(0), channels = x.dim(1);
    if (w.dim(0) != channels || channels % group_ != 0)
      return invalid_input(ctx.where() + ": X " + shape_to_string(x.shape()) + " and W " + shape_to_string(w.shape()) +
                           " do not agree with group " + std::to_string(group_) +
                           " (needs W[0] == C and C divisible by group)");
    const int64_t maps = w.dim(1) * group_;
    EMBER_TRY(check_bias(ctx, op.bias, maps));
    // The col2im geometry: "input" is Y's spatial extent, "output" is X's.
    EMBER_ASSIGN_OR_RETURN(WindowGeometry g, resolve_transpose(ctx, op));
    Shape out_shape{batch, maps};
    out_shape.insert(out_shape.end(), g.in.begin(), g.in.end());
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return Status::Ok();

    return dispatch_conv_dtype(ctx, x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cg = channels / group_, mg = maps / group_;
      const int64_t rows = mg * g.kernel_size(), positions = g.out_size(), out_plane = g.in_size();
      const int64_t chunk = column_chunk(rows, positions);
      Tensor scratch = ctx.allocator.allocate(x.dtype(), {rows * chunk});
      T* col = scratch.mutable_data<T>();
      const T* px = x.data<T>();
      const T* pw = w.data<T>();
      T* py = y.mutable_data<T>();
      std::fill(py, py + y.numel(), T(0));
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t grp = 0; grp < group_; ++grp) {
          const T* x_ng = px + (n * channels + grp * cg) * positions;
          const T* w_g = pw + grp * cg * rows;
          T* y_ng = py + (n * maps + grp * mg) * out_plane;
          for (int64_t p0 = 0; p0 < positions; p0 += chunk) {
            const int64_t p1 = std::min(positions, p0 + chunk);
            typed_gemm<T>(true, false, rows, p1 - p0, cg, 1.0, w_g, rows, x_ng + p0, positions, 0.0, col, p1 - p0);
            col2im_add(col, mg, g, p0, p1, y_ng);
          }
        }
      add_bias<T>(op.bias, batch, maps, out_plane, py);
    });
  }

 private:
  Result<WindowGeometry> resolve_transpose(const RunContext& ctx, const ConvOperands& op) const {
    const size_t rank = op.spatial.size();
    auto per_axis = [&](const std::vector<int64_t>& values, int64_t fallback, const char* name) -> Result<std::vector<int64_t>> {
      if (values.empty()) return std::vector<int64_t>(rank, fallback);
      if (values.size() != rank)
        return invalid_input(ctx.where() + ": attribute " + name + " has " + std::to_string(values.size()) +
                             " values, expected " + std::to_string(rank));
      return values;
    };
    WindowGeometry g;
    g.out = op.spatial;
    g.kernel = op.kernel;
    EMBER_ASSIGN_OR_RETURN(g.stride, per_axis(attrs_.strides, 1, "strides"));
    EMBER_ASSIGN_OR_RETURN(g.dilation, per_axis(attrs_.dilations, 1, "dilations"));
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> adjust, per_axis(output_padding_, 0, "output_padding"));
    if (!attrs_.pads.empty() && attrs_.pads.size() != 2 * rank)
      return invalid_input(ctx.where() + ": attribute pads must hold " + std::to_string(2 * rank) + " values");
    // output_shape may also carry the batch and channel axes; only the spatial ones count.
    std::vector<int64_t> requested = output_shape_;
    if (requested.size() == rank + 2) requested.erase(requested.begin(), requested.begin() + 2);
    if (!requested.empty() && requested.size() != rank)
      return invalid_input(ctx.where() + ": attribute output_shape has " + std::to_string(output_shape_.size()) +
                           " values, expected " + std::to_string(rank));
    g.in.assign(rank, 0);
    g.pad_begin.assign(rank, 0);
    g.pad_end.assign(rank, 0);
    for (size_t a = 0; a < rank; ++a) {
      const int64_t full = g.stride[a] * (op.spatial[a] - 1) + adjust[a] + (g.kernel[a] - 1) * g.dilation[a] + 1;
      const bool same = attrs_.auto_pad == AutoPad::kSameUpper || attrs_.auto_pad == AutoPad::kSameLower;
      if (!requested.empty() || same) {
        g.in[a] = !requested.empty() ? requested[a] : op.spatial[a] * g.stride[a];
        const int64_t total = std::max<int64_t>(0, full - g.in[a]);
        // The odd unit of padding goes to the end for SAME_UPPER, to the beginning otherwise.
        g.pad_begin[a] = attrs_.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        g.pad_end[a] = total - g.pad_begin[a];
      } else {
        if (attrs_.auto_pad == AutoPad::kNotSet && !attrs_.pads.empty()) {
          g.pad_begin[a] = attrs_.pads[a];
          g.pad_end[a] = attrs_.pads[a + rank];
        }
        g.in[a] = full - g.pad_begin[a] - g.pad_end[a];
      }
      if (g.in[a] <= 0)
        return invalid_input(ctx.where() + ": output size " + std::to_string(g.in[a]) + " on spatial axis " +
                             std::to_string(a) + " is not positive");
    }
    return g;
  }

  WindowAttrs attrs_;
  int64_t group_ = 1;
  std::vector<int64_t> output_padding_, output_shape_;
};

}  // namespace

void register_conv_kernels(KernelRegistry& registry) {
  // Conv-11 and ConvTranspose-11 only clarified defaults and padding rules that these
  // kernels follow for every version.
  registry.add("Conv", "", 1, [] { return std::make_unique<ConvKernel>(); });
  registry.add("ConvTranspose", "", 1, [] { return std::make_unique<ConvTransposeKernel>(); });
}

}  // namespace ember::runtime
