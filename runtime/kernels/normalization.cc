// The normalization family: LayerNormalization, InstanceNormalization, LpNormalization,
// MeanVarianceNormalization (here) and BatchNormalization (normalization_batch.cc).
// Statistics accumulate in double with a two-pass variance (mean first, then squared
// deviations), which stays accurate when the mean is large against the spread; float32 rows
// use vector_math.h's blocked sums (float lanes over 64 values, totals in double).
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/normalization_ops.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/kernels/reduce_plan.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime {
namespace {

struct Moments {
  double mean;
  double inv_std;  // 1 / sqrt(variance + epsilon)
};

template <class T>
Moments moments(const T* x, int64_t n, double epsilon) {
  if constexpr (std::is_same_v<T, float>) {  // the per-ISA vector build
    if (n == 0) return {0.0, 1.0 / std::sqrt(epsilon)};
    const double mean = vmath::sum(x, n) / static_cast<double>(n);
    const double variance = vmath::squared_deviations(x, n, static_cast<float>(mean)) / static_cast<double>(n);
    return {mean, 1.0 / std::sqrt(variance + epsilon)};
  }
  const auto plus = [](double a, double b) { return a + b; };
  const double sum = fold_run(0.0, x, n, [](T v) { return static_cast<double>(v); }, plus);
  const double mean = n ? sum / static_cast<double>(n) : 0.0;
  const double squares = fold_run(0.0, x, n,
                                  [mean](T v) {
                                    const double d = static_cast<double>(v) - mean;
                                    return d * d;
                                  },
                                  plus);
  const double variance = n ? squares / static_cast<double>(n) : 0.0;
  return {mean, 1.0 / std::sqrt(variance + epsilon)};
}

// Scale or bias of LayerNormalization, expanded to the normalised extent [axis, rank)
// when it is given with broadcast dims.
Result<Tensor> expand_to(const RunContext& ctx, size_t index, const Shape& target) {
  const Tensor& t = ctx.input(index);
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({t.shape(), target}, ctx.where()));
  if (shape_numel(shape) != shape_numel(target))
    return invalid_input(ctx.where() + ": input " + std::to_string(index) + " of shape " + shape_to_string(t.shape()) +
                         " does not broadcast to the normalized shape " + shape_to_string(target));
  if (t.numel() == shape_numel(target)) return t;
  Tensor out = Tensor::zeros(t.dtype(), target);
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    broadcast_binary<T, T, T>(t, t, out, [](T a, T) { return a; });
  });
  return out;
}

// One row of LayerNormalization: o = (x - mean) * inv_std * s (+ b).
template <class T>
Moments layer_norm_row(const T* row, int64_t n, double epsilon, const T* s, const T* b, T* o) {
  const Moments m = moments(row, n, epsilon);
  const T mean = static_cast<T>(m.mean);
  const T inv = static_cast<T>(m.inv_std);
  if constexpr (std::is_same_v<T, float>) {
    vmath::normalize_affine(row, n, mean, inv, s, b, o);
  } else if (b) {
    blocked_loop(0, n, [&](int64_t i) { o[i] = (row[i] - mean) * inv * s[i] + b[i]; });
  } else {
    blocked_loop(0, n, [&](int64_t i) { o[i] = (row[i] - mean) * inv * s[i]; });
  }
  return m;
}

// LayerNormalization (opset 17): normalise over dims [axis, rank), then scale and shift.
// Outputs 1 and 2 (Mean, InvStdDev) have X's shape with those dims set to 1.
Status run_layer_norm(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 3));
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), x.rank(), ctx.where()));
  const double epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  EMBER_TRY(require_same_dtype(ctx, 0, 1));
  EMBER_ASSIGN_OR_RETURN(Tensor scale, expand_to(ctx, 1, norm_shape));
  Tensor bias;
  if (ctx.has_input(2)) {
    EMBER_TRY(require_same_dtype(ctx, 0, 2));
    EMBER_ASSIGN_OR_RETURN(bias, expand_to(ctx, 2, norm_shape));
  }
  const int64_t n = shape_numel(norm_shape);
  const int64_t rows = n ? x.numel() / n : 0;
  Shape stat_shape = x.shape();
  for (size_t d = static_cast<size_t>(axis); d < stat_shape.size(); ++d) stat_shape[d] = 1;
  return dispatch_types<TypeSet::kFloat>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    // The statistics are f32 (stash_type=1) whatever X's type.
    float* mean_out =
        wants_output(ctx, 1) ? ctx.allocate_output(1, DType::kF32, stat_shape).mutable_data<float>() : nullptr;
    float* inv_out =
        wants_output(ctx, 2) ? ctx.allocate_output(2, DType::kF32, stat_shape).mutable_data<float>() : nullptr;
    const T* in = x.data<T>();
    const T* s = scale.data<T>();
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    T* out = y.mutable_data<T>();
    parallel_for(rows, rows_per_chunk(n), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const Moments m = layer_norm_row(in + r * n, n, epsilon, s, b, out + r * n);
        if (mean_out) mean_out[r] = static_cast<float>(m.mean);
        if (inv_out) inv_out[r] = static_cast<float>(m.inv_std);
      }
    });
  });
}

Status run_layer_norm_any(RunContext& ctx) {
  return has_half_input(ctx) ? run_widened_to_f32(ctx, run_layer_norm, {1, 2}) : run_layer_norm(ctx);
}

// InstanceNormalization: per (n, c) over the spatial dims, then per-channel scale and bias.
Status run_instance_norm(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 3, 3));
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2)
    return invalid_input(ctx.where() + ": input must have rank >= 2, got " + shape_to_string(x.shape()));
  const double epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  const int64_t channels = x.dim(1);
  for (size_t i = 1; i <= 2; ++i) {
    EMBER_TRY(require_same_dtype(ctx, 0, i));
    if (ctx.input(i).numel() != channels)
      return invalid_input(ctx.where() + ": input " + std::to_string(i) + " must hold " + std::to_string(channels) +
                           " values (one per channel), got shape " + shape_to_string(ctx.input(i).shape()));
  }
  int64_t spatial = 1;
  for (int d = 2; d < x.rank(); ++d) spatial *= x.dim(d);
  return dispatch_types<TypeSet::kFloat>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    const T* in = x.data<T>();
    const T* scale = ctx.input(1).template data<T>();
    const T* bias = ctx.input(2).template data<T>();
    T* out = y.mutable_data<T>();
    const int64_t planes = x.dim(0) * channels;
    parallel_for(planes, rows_per_chunk(spatial), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const Moments m = moments(in + p * spatial, spatial, epsilon);
        const int64_t c = p % channels;
        const T a = static_cast<T>(m.inv_std * static_cast<double>(scale[c]));
        const T shift =
            static_cast<T>(static_cast<double>(bias[c]) - m.mean * m.inv_std * static_cast<double>(scale[c]));
        blocked_loop(p * spatial, (p + 1) * spatial, [&](int64_t i) { out[i] = in[i] * a + shift; });
      }
    });
  });
}

// LpNormalization: x / ||x||_p along `axis` (p = 1 or 2); a zero-norm slice stays zero.
Status run_lp_norm(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const int64_t p = ctx.node.attr_int("p", 2);
  if (p != 1 && p != 2) return invalid_input(ctx.where() + ": attribute p must be 1 or 2, got " + std::to_string(p));
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), x.rank(), ctx.where()));
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(x.shape(), {axis}, ctx.where()));
  return dispatch_types<TypeSet::kFloat>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> norm(static_cast<size_t>(plan.out_numel), 0.0);
    if (p == 1) {
      accumulate(plan, x.data<T>(), norm.data(), [](T v, int64_t) { return std::fabs(static_cast<double>(v)); },
                 [](double a, double b) { return a + b; });
    } else {
      accumulate(
          plan, x.data<T>(), norm.data(), [](T v, int64_t) { return static_cast<double>(v) * static_cast<double>(v); },
          [](double a, double b) { return a + b; });
      for (double& v : norm) v = std::sqrt(v);
    }
    for (double& v : norm) v = v == 0 ? 0 : 1 / v;
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    const T* in = x.data<T>();
    T* out = y.mutable_data<T>();
    for_each_reduce_run(plan, kElementwiseGrain, [&](int64_t o, int64_t i, int64_t len, int64_t stride) {
      for (int64_t k = 0; k < len; ++k) out[i + k] = static_cast<T>(in[i + k] * norm[size_t(o + k * stride)]);
    });
  });
}

// MeanVarianceNormalization: (x - mean) / (sqrt(variance) + 1e-9) over `axes` (default
// [0, 2, 3]); the epsilon is the one in the ONNX function definition.
Status run_mean_variance_norm(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const ir::Attribute* attr = ctx.node.find_attr("axes");
  const std::vector<int64_t> axes = attr ? attr->ints : std::vector<int64_t>{0, 2, 3};
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(x.shape(), axes, ctx.where()));
  return dispatch_types<TypeSet::kFloat>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    const double count = static_cast<double>(plan.reduce_count);
    std::vector<double> mean(static_cast<size_t>(plan.out_numel), 0.0);
    accumulate(plan, in, mean.data(), [](T v, int64_t) { return static_cast<double>(v); },
               [](double a, double b) { return a + b; });
    for (double& m : mean) m /= count;
    std::vector<double> scale(mean.size(), 0.0);
    accumulate(plan, in, scale.data(),
               [&mean](T v, int64_t o) {
                 const double d = static_cast<double>(v) - mean[size_t(o)];
                 return d * d;
               },
               [](double a, double b) { return a + b; });
    for (double& s : scale) s = 1.0 / (std::sqrt(s / count) + 1e-9);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    T* out = y.mutable_data<T>();
    for_each_reduce_run(plan, kElementwiseGrain, [&](int64_t o, int64_t i, int64_t len, int64_t stride) {
      for (int64_t k = 0; k < len; ++k) {
        const size_t s = size_t(o + k * stride);
        out[i + k] = static_cast<T>((static_cast<double>(in[i + k]) - mean[s]) * scale[s]);
      }
    });
  });
}

}  // namespace

void layer_norm_row_f32(const float* row, int64_t n, double epsilon, const float* scale, const float* bias, float* out) {
  layer_norm_row(row, n, epsilon, scale, bias, out);
}

Result<Tensor> expand_input_to(const RunContext& ctx, size_t index, const Shape& target) { return expand_to(ctx, index, target); }

void register_normalization_kernels(KernelRegistry& registry) {
  registry.add_function("LayerNormalization", "", 17, run_layer_norm_any);
  registry.add_function("InstanceNormalization", "", 6, with_half_support<run_instance_norm>);
  registry.add_function("LpNormalization", "", 1, with_half_support<run_lp_norm>);
  registry.add_function("MeanVarianceNormalization", "", 9, with_half_support<run_mean_variance_norm>);
  registry.add("BatchNormalization", "", 6, make_batch_norm_legacy_kernel);
  registry.add("BatchNormalization", "", 14, make_batch_norm_kernel);
}

}  // namespace ember::runtime
