// One-input math: Abs, Neg, Sign, Sqrt, Reciprocal, Exp, Log, trigonometry, Erf, rounding,
// IsNaN, IsInf. Float ops take float and double (f16/bf16 through half_fallback.h).
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/fast_math.h"
#include "runtime/kernels/unary_kernel.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime {
namespace {

// Float-only math through std::, at the transcendental grain.
template <class Op>
Status run_float_math(RunContext& ctx, const Op& op) {
  return run_map<TypeSet::kFloat>(ctx, op, kTranscendentalGrain);
}

}  // namespace

Status run_abs(RunContext& ctx) {
  return run_map<TypeSet::kNumber>(ctx, [](auto x) -> decltype(x) {
    using T = decltype(x);
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else if constexpr (std::is_integral_v<T>) {
      return x < 0 ? wrapping_sub<T>(0, x) : x;
    } else {
      return std::fabs(x);
    }
  });
}

Status run_neg(RunContext& ctx) {
  return run_map<TypeSet::kSignedNumber>(ctx, [](auto x) -> decltype(x) {
    if constexpr (std::is_floating_point_v<decltype(x)>) {
      return -x;
    } else {
      return wrapping_sub<decltype(x)>(0, x);
    }
  });
}

// -1, 0 or 1; NaN stays NaN as in numpy.
Status run_sign(RunContext& ctx) {
  return run_map<TypeSet::kNumber>(ctx, [](auto x) -> decltype(x) {
    using T = decltype(x);
    if (x > T(0)) return T(1);
    if constexpr (std::is_signed_v<T>) {
      if (x < T(0)) return T(-1);
    }
    return x == T(0) ? T(0) : x;
  });
}

Status run_sqrt(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return std::sqrt(x); });
}
Status run_reciprocal(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return decltype(x)(1) / x; });
}
Status run_exp(RunContext& ctx) {
  return run_map_f32<TypeSet::kFloat>(
      ctx, [](auto x) { return exp_value(x); }, [](const float* x, float* y, int64_t n) { vmath::exp_shifted(x, y, n, 0.0f); },
      kTranscendentalGrain);
}
Status run_log(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::log(x); });
}
Status run_sin(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::sin(x); });
}
Status run_cos(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::cos(x); });
}
Status run_tan(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::tan(x); });
}
Status run_asin(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::asin(x); });
}
Status run_acos(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::acos(x); });
}
Status run_atan(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::atan(x); });
}
Status run_sinh(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::sinh(x); });
}
Status run_cosh(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::cosh(x); });
}
Status run_asinh(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::asinh(x); });
}
Status run_acosh(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::acosh(x); });
}
Status run_atanh(RunContext& ctx) {
  return run_float_math(ctx, [](auto x) { return std::atanh(x); });
}
Status run_erf(RunContext& ctx) {
  return run_map_f32<TypeSet::kFloat>(ctx, [](auto x) { return erf_value(x); }, vmath::erf, kTranscendentalGrain);
}
Status run_floor(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return std::floor(x); });
}
Status run_ceil(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return std::ceil(x); });
}
// Halves round to even (ONNX Round), which is nearbyint in the default rounding mode.
Status run_round(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return std::nearbyint(x); });
}

Status run_is_nan(RunContext& ctx) {
  return run_map<TypeSet::kFloat>(ctx, [](auto x) { return x != x; });
}

Status run_is_inf(RunContext& ctx) {
  const bool positive = ctx.node.attr_int("detect_positive", 1) != 0;
  const bool negative = ctx.node.attr_int("detect_negative", 1) != 0;
  return run_map<TypeSet::kFloat>(ctx, [positive, negative](auto x) {
    using T = decltype(x);
    return (positive && x == std::numeric_limits<T>::infinity()) ||
           (negative && x == -std::numeric_limits<T>::infinity());
  });
}

}  // namespace ember::runtime
