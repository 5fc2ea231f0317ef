// Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9): ONNX reference semantics.
// Each output coordinate x along an axis maps back to x_original by the coordinate transform
//   half_pixel (x+0.5)/s-0.5 | half_pixel_symmetric | pytorch_half_pixel | align_corners
//   x*(in-1)/(out-1) | asymmetric x/s | tf_half_pixel_for_nn (x+0.5)/s | tf_crop_and_resize
// and the output is a weighted sum of input points around x_original: nearest (one point,
// rounded by nearest_mode), linear (2 points, 1-r and r), cubic (4 points, Keys' kernel with
// cubic_coeff_a); antialias widens linear/cubic kernels by 1/s when downsampling. Indices are
// clamped (edge padding); exclude_outside renormalises the weights of points inside.
// The resize is separable, so it is applied one axis at a time, last axis first (the order
// of the reference's recursion). Opset 10 and Upsample: asymmetric, nearest rounds down when
// upsampling and up when downsampling (onnxruntime's behaviour for them).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/memory_limits.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/resize_plan.h"
#include "runtime/kernels/shape_common.h"

namespace ember::runtime {
namespace {

// The node's inputs as plan_resize sees them (a run or a backward pass).
struct ResizeArgs {
  const ir::Node& node;
  const std::vector<const Tensor*>& inputs;
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(size_t i) const { return *inputs[i]; }
  std::string where() const { return "node '" + node.name + "' (" + node.op_type + ")"; }
};

struct ResizeAttrs {
  std::string mode, transform, nearest;
  float cubic_a = -0.75f, extrapolation = 0;
  bool exclude_outside = false, antialias = false, legacy = false;
};

float original_coordinate(const ResizeAttrs& a, float x, float scale, int64_t in, int64_t out, float roi_start, float roi_end) {
  const std::string& t = a.transform;
  if (t == "half_pixel") return (x + 0.5f) / scale - 0.5f;
  if (t == "half_pixel_symmetric") {
    const float adjustment = float(out) / (scale * float(in));
    const float center = float(in) / 2;
    return center * (1 - adjustment) + (x + 0.5f) / scale - 0.5f;
  }
  if (t == "pytorch_half_pixel") return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
  if (t == "align_corners") {  // the reference divides by the unrounded output length, scale * in
    const float length = scale * float(in);
    return length == 1 ? 0.0f : x * float(in - 1) / (length - 1);
  }
  if (t == "tf_half_pixel_for_nn") return (x + 0.5f) / scale;
  if (t == "tf_crop_and_resize")
    return out > 1 ? roi_start * float(in - 1) + x * (roi_end - roi_start) * float(in - 1) / float(out - 1)
                   : 0.5f * (roi_start + roi_end) * float(in - 1);
  return x / scale;  // asymmetric
}

int64_t round_nearest(const ResizeAttrs& a, float x, float scale) {
  if (a.legacy) return scale < 1 ? int64_t(std::ceil(x)) : int64_t(std::floor(x));
  if (a.nearest == "floor") return int64_t(std::floor(x));
  if (a.nearest == "ceil") return int64_t(std::ceil(x));
  const float f = std::floor(x);
  if (x - f == 0.5f) return int64_t(a.nearest == "round_prefer_ceil" ? f + 1 : f);
  return int64_t(std::round(x));
}

float cubic_kernel(float x, float A) {
  x = std::fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

AxisTaps axis_taps(const ResizeAttrs& a, int64_t in, int64_t out, float scale, float roi_start, float roi_end) {
  AxisTaps t;
  const bool nearest = a.mode == "nearest";
  const float support_scale = a.antialias && !nearest && scale < 1 ? scale : 1.0f;
  const int64_t half = nearest ? 0 : (a.mode == "linear" ? int64_t(std::floor(1 / support_scale)) : int64_t(std::floor(2 / support_scale)));
  t.taps = nearest ? 1 : 2 * half;
  t.index.resize(size_t(out * t.taps));
  t.weight.resize(size_t(out * t.taps));
  t.outside.resize(size_t(out), 0);
  for (int64_t o = 0; o < out; ++o) {
    const float x = original_coordinate(a, float(o), scale, in, out, roi_start, roi_end);
    int64_t* idx = &t.index[size_t(o * t.taps)];
    float* w = &t.weight[size_t(o * t.taps)];
    if (a.transform == "tf_crop_and_resize" && (x < 0 || x > float(in - 1))) {
      t.outside[size_t(o)] = 1;
      std::fill_n(idx, t.taps, 0);
      std::fill_n(w, t.taps, 0.0f);
      continue;
    }
    if (nearest) {
      idx[0] = std::clamp<int64_t>(round_nearest(a, x, scale), 0, in - 1);
      w[0] = 1;
      continue;
    }
    // Points x0 + i for i in [1-half, half], with ratio r in (0, 1] (the left point preferred).
    int64_t x0 = int64_t(std::floor(x));
    float r = x - float(x0);
    if (r == 0) {
      x0 -= 1;
      r = 1;
    }
    float sum = 0;
    for (int64_t k = 0; k < t.taps; ++k) {
      const int64_t i = k + 1 - half;
      const float d = (float(i) - r) * support_scale;
      w[k] = a.mode == "linear" ? std::clamp(1 - std::fabs(d), 0.0f, 1.0f) : cubic_kernel(d, a.cubic_a);
      idx[k] = x0 + i;
      if (a.exclude_outside && (idx[k] < 0 || idx[k] >= in)) w[k] = 0;
      sum += w[k];
      idx[k] = std::clamp<int64_t>(idx[k], 0, in - 1);
    }
    if (support_scale < 1 || a.exclude_outside)
      for (int64_t k = 0; k < t.taps; ++k) w[k] /= sum;
  }
  return t;
}

// Whether the taps copy each index to itself (weight 1 on index o, 0 elsewhere).
bool is_identity(const AxisTaps& t, int64_t in, int64_t out) {
  if (in != out) return false;
  for (int64_t o = 0; o < out; ++o) {
    if (t.outside[size_t(o)]) return false;
    for (int64_t k = 0; k < t.taps; ++k) {
      const float w = t.weight[size_t(o * t.taps + k)];
      if (w != 0 && (w != 1 || t.index[size_t(o * t.taps + k)] != o)) return false;
    }
  }
  return true;
}

template <class T>
void resize_axis_typed(const T* src, T* dst, const Shape& shape, int axis, int64_t out, const AxisTaps& t, float extrapolation) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t in = shape[size_t(axis)];
  for (int64_t b = 0; b < outer; ++b)
    for (int64_t o = 0; o < out; ++o) {
      T* y = dst + (b * out + o) * inner;
      if (t.outside[size_t(o)]) {
        std::fill_n(y, inner, T(extrapolation));
        continue;
      }
      std::fill_n(y, inner, T(0));
      for (int64_t k = 0; k < t.taps; ++k) {
        const T w = t.weight[size_t(o * t.taps + k)];
        if (w == 0 && t.taps > 1) continue;
        const T* x = src + (b * in + t.index[size_t(o * t.taps + k)]) * inner;
        for (int64_t i = 0; i < inner; ++i) y[i] += w * x[i];
      }
    }
}

Result<std::vector<float>> read_floats(const ResizeArgs& ctx, size_t index) {
  const Tensor& t = ctx.input(index);
  if (!traits(t.dtype()).is_float) return invalid_input(ctx.where() + ": input " + std::to_string(index) + " must be float");
  return t.to_floats();
}

Result<ResizeAttrs> read_attrs(const ResizeArgs& ctx, int64_t opset, bool upsample) {
  ResizeAttrs a;
  a.legacy = upsample || opset < 11;
  a.mode = ctx.node.attr_string("mode", "nearest");
  if (a.mode == "bilinear" || a.mode == "trilinear") a.mode = "linear";  // Upsample-7 names
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic")
    return invalid_input(ctx.where() + ": unknown mode '" + a.mode + "'");
  a.transform = a.legacy ? "asymmetric" : ctx.node.attr_string("coordinate_transformation_mode", "half_pixel");
  a.nearest = ctx.node.attr_string("nearest_mode", "round_prefer_floor");
  a.cubic_a = ctx.node.attr_float("cubic_coeff_a", -0.75f);
  a.exclude_outside = ctx.node.attr_int("exclude_outside", 0) != 0;
  a.extrapolation = ctx.node.attr_float("extrapolation_value", 0.0f);
  a.antialias = ctx.node.attr_int("antialias", 0) != 0;
  return a;
}

struct Geometry {
  std::vector<int> axes;     // the resized axes (all by default)
  std::vector<float> scale;  // per input dimension
  Shape out;
  std::vector<float> roi;    // starts then ends, per resized axis (tf_crop_and_resize)
};

// Output shape and per-axis scales from scales or sizes (never both), axes, and
// keep_aspect_ratio_policy.
Result<Geometry> read_geometry(const ResizeArgs& ctx, const ResizeAttrs& a, const Shape& xs, bool upsample) {
  const int rank = int(xs.size());
  Geometry g;
  // Inputs: Upsample-9 / Resize-10 (X, scales); Resize-11+ (X, roi, scales, sizes); Upsample-7 scales attribute.
  const size_t scales_at = a.legacy ? 1 : 2, sizes_at = 3;
  const bool has_scales = ctx.has_input(scales_at) && ctx.input(scales_at).numel() > 0;
  const bool has_sizes = !a.legacy && ctx.has_input(sizes_at) && ctx.input(sizes_at).numel() > 0;
  if (has_scales && has_sizes) return invalid_input(ctx.where() + ": both scales and sizes are given; exactly one is allowed");
  std::vector<int64_t> axes_attr = ctx.node.attr_ints("axes");
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes, normalize_axes(axes_attr, rank, ctx.where()));
  if (axes_attr.empty())
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  std::vector<float> scale(size_t(rank), 1.0f);
  Shape out = xs;
  if (upsample && !ctx.has_input(1)) {
    const std::vector<float> s = ctx.node.find_attr("scales") ? ctx.node.find_attr("scales")->floats : std::vector<float>{};
    if (int(s.size()) != rank) return invalid_input(ctx.where() + ": scales must have one value per input dimension");
    scale = s;
  } else if (has_scales) {
    EMBER_ASSIGN_OR_RETURN(std::vector<float> s, read_floats(ctx, scales_at));
    if (s.size() != axes.size()) return invalid_input(ctx.where() + ": scales has " + std::to_string(s.size()) + " values for " + std::to_string(axes.size()) + " axes");
    for (size_t i = 0; i < axes.size(); ++i) scale[size_t(axes[i])] = s[i];
  } else if (has_sizes) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, ctx.input(sizes_at).to_int64s());
    if (sizes.size() != axes.size()) return invalid_input(ctx.where() + ": sizes has " + std::to_string(sizes.size()) + " values for " + std::to_string(axes.size()) + " axes");
    const std::string policy = ctx.node.attr_string("keep_aspect_ratio_policy", "stretch");
    float common = policy == "not_larger" ? 1e30f : 0.0f;
    for (size_t i = 0; i < axes.size(); ++i) {
      const float s = float(sizes[i]) / float(xs[size_t(axes[i])]);
      common = policy == "not_larger" ? std::min(common, s) : std::max(common, s);
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      const size_t d = size_t(axes[i]);
      scale[d] = policy == "stretch" ? float(sizes[i]) / float(xs[d]) : common;
      out[d] = policy == "stretch" ? sizes[i] : int64_t(std::round(common * float(xs[d])));
    }
  } else {
    return invalid_input(ctx.where() + ": neither scales nor sizes is given");
  }
  std::vector<float> roi;
  if (!a.legacy && ctx.has_input(1) && ctx.input(1).numel() > 0) {
    EMBER_ASSIGN_OR_RETURN(roi, read_floats(ctx, 1));
  }
  if (a.transform == "tf_crop_and_resize" && roi.size() != 2 * axes.size())
    return invalid_input(ctx.where() + ": tf_crop_and_resize needs roi with 2 values per resized axis");
  for (int d = 0; d < rank; ++d) {
    if (scale[size_t(d)] <= 0) return invalid_input(ctx.where() + ": scale " + std::to_string(scale[size_t(d)]) + " is not positive");
    if (!has_sizes) {
      float extent = 1;
      if (a.transform == "tf_crop_and_resize")
        for (size_t i = 0; i < axes.size(); ++i)
          if (axes[i] == d) extent = roi[axes.size() + i] - roi[i];
      out[size_t(d)] = int64_t(double(xs[size_t(d)]) * double(extent) * double(scale[size_t(d)]));
    }
  }
  g.axes = std::move(axes);
  g.scale = std::move(scale);
  g.out = std::move(out);
  g.roi = std::move(roi);
  return g;
}

Status run_resize(RunContext& ctx, int64_t opset, bool upsample) {
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(const ResizePlan plan, plan_resize(ctx.node, opset, upsample, x.shape(), ctx.inputs));
  EMBER_TRY(check_output_shape(ctx.where(), x.dtype(), plan.out));
  // Nearest on any element type is a gather; linear and cubic compute in float.
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kF64 && !plan.nearest)
    return invalid_input(ctx.where() + ": linear and cubic modes need float input");
  const int bits = traits(x.dtype()).bits;
  if (bits == 0 || bits % 8 != 0) return invalid_input(ctx.where() + ": element type " + std::string(dtype_name(x.dtype())) + " is not supported");
  const size_t esize = size_t(bits / 8);
  Tensor cur = x;
  for (const ResizeStep& step : plan.steps) {
    const int d = step.axis;
    Shape next = step.in;
    next[size_t(d)] = step.out;
    Tensor dst = ctx.allocator.allocate(x.dtype(), next);
    if (x.dtype() == DType::kF32) {
      resize_axis(cur.data<float>(), dst.mutable_data<float>(), step.in, d, step.out, step.taps, plan.extrapolation);
    } else if (x.dtype() == DType::kF64) {
      resize_axis_typed(cur.data<double>(), dst.mutable_data<double>(), step.in, d, step.out, step.taps, plan.extrapolation);
    } else {
      int64_t outer = 1, inner = 1;
      for (int k = 0; k < d; ++k) outer *= step.in[size_t(k)];
      for (size_t k = size_t(d) + 1; k < step.in.size(); ++k) inner *= step.in[k];
      const auto* src = static_cast<const uint8_t*>(cur.raw());
      auto* y = static_cast<uint8_t*>(dst.raw_mutable());
      const size_t row = size_t(inner) * esize;
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t o = 0; o < step.out; ++o)
          std::memcpy(y + size_t(b * step.out + o) * row, src + size_t(b * step.in[size_t(d)] + step.taps.index[size_t(o)]) * row, row);
    }
    cur = std::move(dst);
  }
  ctx.outputs[0] = std::move(cur);  // the input itself when no axis changes
  return Status::Ok();
}

class ResizeKernel final : public Kernel {
 public:
  explicit ResizeKernel(bool upsample) : upsample_(upsample) {}
  Status prepare(const PrepareContext& ctx) override {
    opset_ = ctx.opset;
    return Status::Ok();
  }
  Status run(RunContext& ctx) override {
    if (ctx.num_inputs() < 1 || !ctx.has_input(0)) return invalid_input(ctx.where() + ": input X is missing");
    if (is_half_dtype(ctx.input(0).dtype())) {  // f16/bf16: computed in f32 (a plain function is needed there)
      thread_local const ResizeKernel* self = nullptr;
      self = this;
      return run_widened_to_f32(ctx, [](RunContext& c) { return run_resize(c, self->opset_, self->upsample_); });
    }
    return run_resize(ctx, opset_, upsample_);
  }

 private:
  bool upsample_;
  int64_t opset_ = 11;
};

}  // namespace

Result<ResizePlan> plan_resize(const ir::Node& node, int64_t opset, bool upsample, const Shape& x_shape,
                               const std::vector<const Tensor*>& inputs) {
  const ResizeArgs args{node, inputs};
  EMBER_ASSIGN_OR_RETURN(const ResizeAttrs a, read_attrs(args, opset, upsample));
  EMBER_ASSIGN_OR_RETURN(const Geometry g, read_geometry(args, a, x_shape, upsample));
  ResizePlan plan;
  plan.out = g.out;
  plan.extrapolation = a.extrapolation;
  plan.nearest = a.mode == "nearest";
  Shape cur = x_shape;
  for (int d = int(x_shape.size()) - 1; d >= 0; --d) {
    float roi_start = 0, roi_end = 1;
    for (size_t i = 0; i < g.axes.size() && !g.roi.empty(); ++i)
      if (g.axes[i] == d) roi_start = g.roi[i], roi_end = g.roi[g.axes.size() + i];
    ResizeStep step{d, cur, g.out[size_t(d)], axis_taps(a, cur[size_t(d)], g.out[size_t(d)], g.scale[size_t(d)], roi_start, roi_end)};
    if (is_identity(step.taps, cur[size_t(d)], step.out)) continue;  // e.g. the batch and channel axes
    cur[size_t(d)] = step.out;
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

// One axis of `src` (float) resized into `dst` with the taps.
void resize_axis(const float* src, float* dst, const Shape& shape, int axis, int64_t out, const AxisTaps& t, float extrapolation) {
  resize_axis_typed(src, dst, shape, axis, out, t, extrapolation);
}

void resize_axis_adjoint(const float* dy, float* dx, const Shape& shape, int axis, int64_t out, const AxisTaps& t) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t in = shape[size_t(axis)];
  std::fill_n(dx, outer * in * inner, 0.0f);
  for (int64_t b = 0; b < outer; ++b)
    for (int64_t o = 0; o < out; ++o) {
      if (t.outside[size_t(o)]) continue;  // extrapolated: no input contributed
      const float* g = dy + (b * out + o) * inner;
      for (int64_t k = 0; k < t.taps; ++k) {
        const float w = t.weight[size_t(o * t.taps + k)];
        if (w == 0) continue;
        float* x = dx + (b * in + t.index[size_t(o * t.taps + k)]) * inner;
        for (int64_t i = 0; i < inner; ++i) x[i] += w * g[i];
      }
    }
}

void register_resize_kernels(KernelRegistry& registry) {
  registry.add("Resize", "", 10, [] { return std::make_unique<ResizeKernel>(false); });
  registry.add("Upsample", "", 7, [] { return std::make_unique<ResizeKernel>(true); });
}

}  // namespace ember::runtime
