// The activation family: pointwise nonlinearities (here), Softmax/LogSoftmax/Hardmax
// (activation_softmax.cc), Clip and PRelu (activation_clip.cc). Each table entry is
// (op, opset since which these semantics hold, kernel). Attribute defaults follow the
// ONNX spec; the formulas are the numerically stable forms of the spec's definitions.
#include <cmath>
#include <string>
#include <type_traits>

#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/activation_ops.h"
#include "runtime/kernels/fast_math.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/unary_kernel.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime {
namespace {

template <class Op>
Status run_float_activation(RunContext& ctx, const Op& op) {
  return run_map<TypeSet::kFloat>(ctx, op, kTranscendentalGrain);
}
// The same, with float32 through a vector_math.h function.
template <class Op>
Status run_float_activation(RunContext& ctx, const Op& op, F32ArrayFunction f32) {
  return run_map_f32<TypeSet::kFloat>(ctx, op, f32, kTranscendentalGrain);
}

Status run_relu(RunContext& ctx) {
  return run_map<TypeSet::kSignedNumber>(ctx, [](auto x) -> decltype(x) { return x < 0 ? decltype(x)(0) : x; });
}

Status run_leaky_relu(RunContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 0.01f);
  return run_map<TypeSet::kFloat>(ctx, [alpha](auto x) -> decltype(x) {
    return x < 0 ? static_cast<decltype(x)>(alpha) * x : x;
  });
}

Status run_elu(RunContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 1.0f);
  return run_float_activation(ctx, [alpha](auto x) -> decltype(x) {
    return x < 0 ? static_cast<decltype(x)>(alpha) * std::expm1(x) : x;
  });
}

Status run_selu(RunContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 1.67326319217681884765625f);
  const double gamma = ctx.node.attr_float("gamma", 1.05070102214813232421875f);
  return run_float_activation(ctx, [alpha, gamma](auto x) -> decltype(x) {
    using T = decltype(x);
    return static_cast<T>(gamma) * (x > 0 ? x : static_cast<T>(alpha) * std::expm1(x));
  });
}

// For x << 0, exp(-x) overflows to inf and the result is 0, within a denormal of the truth.
template <class T>
T sigmoid(T x) {
  return T(1) / (T(1) + exp_value(-x));
}

template <class T>
T softplus(T x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

Status run_sigmoid(RunContext& ctx) {
  return run_float_activation(ctx, [](auto x) { return sigmoid(x); }, vmath::sigmoid);
}

Status run_hard_sigmoid(RunContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 0.2f);
  const double beta = ctx.node.attr_float("beta", 0.5f);
  return run_map<TypeSet::kFloat>(ctx, [alpha, beta](auto x) -> decltype(x) {
    using T = decltype(x);
    const T v = static_cast<T>(alpha) * x + static_cast<T>(beta);
    return v < 0 ? T(0) : (v > 1 ? T(1) : v);
  });
}

Status run_hard_swish(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) {
    using T = decltype(x);
    const T v = x / T(6) + T(0.5);
    return x * (v < 0 ? T(0) : (v > 1 ? T(1) : v));
  });
}

Status run_tanh(RunContext& ctx) {
  return run_float_activation(ctx, [](auto x) { return tanh_value(x); }, vmath::tanh);
}

Status run_softplus(RunContext& ctx) {
  return run_float_activation(ctx, [](auto x) { return softplus(x); });
}

Status run_softsign(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); });
}

Status run_thresholded_relu(RunContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 1.0f);
  return run_map<TypeSet::kFloat>(ctx, [alpha](auto x) -> decltype(x) {
    return x > static_cast<decltype(x)>(alpha) ? x : decltype(x)(0);
  });
}

Status run_celu(RunContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 1.0f);
  if (alpha == 0) return invalid_input(ctx.where() + ": alpha must not be 0");
  return run_float_activation(ctx, [alpha](auto x) -> decltype(x) {
    using T = decltype(x);
    const T a = static_cast<T>(alpha);
    return x > 0 ? x : a * std::expm1(x / a);
  });
}

Status run_mish(RunContext& ctx) {
  return run_float_activation(ctx, [](auto x) { return x * std::tanh(softplus(x)); });
}

Status run_shrink(RunContext& ctx) {
  const double lambd = ctx.node.attr_float("lambd", 0.5f);
  const double bias = ctx.node.attr_float("bias", 0.0f);
  return run_map<TypeSet::kNumber>(ctx, [lambd, bias](auto x) -> decltype(x) {
    using T = decltype(x);
    const double v = static_cast<double>(x);
    if (v < -lambd) return static_cast<T>(v + bias);
    if (v > lambd) return static_cast<T>(v - bias);
    return T(0);
  });
}

// Gelu (opset 20): x * Phi(x), exactly with erf or with the tanh approximation.
Status run_gelu(RunContext& ctx) {
  const std::string approximate = ctx.node.attr_string("approximate", "none");
  if (approximate == "none") {
    return run_float_activation(ctx, [](auto x) -> decltype(x) {
      using T = decltype(x);
      return T(0.5) * x * (T(1) + erf_value(x * T(0.70710678118654752440)));
    }, vmath::gelu_erf);
  }
  if (approximate == "tanh") {
    return run_float_activation(ctx, [](auto x) -> decltype(x) {
      using T = decltype(x);
      const T inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
      return T(0.5) * x * (T(1) + tanh_value(inner));
    }, vmath::gelu_tanh);
  }
  return invalid_input(ctx.where() + ": attribute approximate must be 'none' or 'tanh', got '" + approximate + "'");
}

struct Entry {
  const char* op;
  int since;
  RunFunction run;
};

constexpr Entry kActivationKernels[] = {
    {"Relu", 6, with_half_support<run_relu>},
    {"LeakyRelu", 6, with_half_support<run_leaky_relu>},
    {"Elu", 6, with_half_support<run_elu>},
    {"Selu", 6, with_half_support<run_selu>},
    {"Sigmoid", 6, with_half_support<run_sigmoid>},
    {"HardSigmoid", 6, with_half_support<run_hard_sigmoid>},
    {"HardSwish", 14, with_half_support<run_hard_swish>},
    {"Tanh", 6, with_half_support<run_tanh>},
    {"Softplus", 1, with_half_support<run_softplus>},
    {"Softsign", 1, with_half_support<run_softsign>},
    {"ThresholdedRelu", 10, with_half_support<run_thresholded_relu>},
    {"Celu", 12, with_half_support<run_celu>},
    {"Mish", 18, with_half_support<run_mish>},
    {"Shrink", 9, with_half_support<run_shrink>},
    {"Gelu", 20, with_half_support<run_gelu>},
    {"Softmax", 1, with_half_support<run_softmax_coerced>},
    {"Softmax", 13, with_half_support<run_softmax>},
    {"LogSoftmax", 1, with_half_support<run_log_softmax_coerced>},
    {"LogSoftmax", 13, with_half_support<run_log_softmax>},
    {"Hardmax", 1, with_half_support<run_hardmax_coerced>},
    {"Hardmax", 13, with_half_support<run_hardmax>},
    {"Clip", 6, with_half_support<run_clip_with_attributes>},
    {"Clip", 11, with_half_support<run_clip>},
    {"PRelu", 1, with_half_support<run_prelu_per_channel>},
    {"PRelu", 7, with_half_support<run_prelu>},
};

}  // namespace

void register_activation_kernels(KernelRegistry& registry) {
  for (const Entry& e : kActivationKernels) registry.add_function(e.op, "", e.since, e.run);
  // The GELU subgraphs fused at load (rewrite_float.h): erf form, or approximate=tanh.
}

Status run_gelu_any(RunContext& ctx) { return with_half_support<run_gelu>(ctx); }

}  // namespace ember::runtime
