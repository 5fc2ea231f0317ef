// Arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Pow, Mod and the variadic
// Max, Min, Sum, Mean. Integer ops wrap on overflow and never trap: division by zero
// gives 0 (C would raise SIGFPE), and integer Div truncates toward zero like C.
#include <cmath>
#include <type_traits>

#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

template <class T>
T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return wrapping_sub<T>(0, a);  // INT_MIN / -1 overflows in C
    }
    return static_cast<T>(a / b);
  } else {
    return a / b;
  }
}

// C's %: the result takes the dividend's sign.
template <class T>
T truncated_mod(T a, T b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return 0;
  }
  return static_cast<T>(a % b);
}

// Python's %: the result takes the divisor's sign (ONNX Mod with fmod=0).
template <class T>
T floored_mod(T a, T b) {
  T r = truncated_mod(a, b);
  if constexpr (std::is_signed_v<T>) {
    if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
  }
  return r;
}

// x^n by squaring, wrapping like repeated multiplication would.
template <class T>
T integer_power(T x, uint64_t n) {
  T result = 1;
  while (n) {
    if (n & 1) result = wrapping_mul(result, x);
    x = wrapping_mul(x, x);
    n >>= 1;
  }
  return result;
}

template <class TX, class TY>
TX pow_value(TX x, TY y) {
  if constexpr (std::is_integral_v<TX> && std::is_integral_v<TY>) {
    if constexpr (std::is_signed_v<TY>) {
      if (y < 0) {  // 1/x^|y| truncates to 0 unless |x| == 1
        if (x == 1) return 1;
        if constexpr (std::is_signed_v<TX>) {
          if (x == -1) return (y & 1) ? -1 : 1;
        }
        return 0;
      }
    }
    return integer_power(x, static_cast<uint64_t>(y));
  } else if constexpr (std::is_same_v<TX, float> && !std::is_same_v<TY, double>) {
    return std::pow(x, static_cast<float>(y));
  } else if constexpr (std::is_floating_point_v<TX>) {
    return static_cast<TX>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  } else {
    return saturate_to_integer<TX>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
}

struct MaxOp {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a > b || a != a) ? a : b;  // NaN wins, as in numpy.maximum
    } else {
      return a > b ? a : b;
    }
  }
};

struct MinOp {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a < b || a != a) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};

struct AddOp {
  template <class T>
  T operator()(T a, T b) const { return wrapping_add(a, b); }
};

template <TypeSet S, class Op>
Status run_same_type_binary(RunContext& ctx, const Op& op) {
  EMBER_ASSIGN_OR_RETURN(Tensor * out, begin_binary(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return dispatch_types<S>(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    broadcast_binary<T, T, T>(a, b, *out, [&op](T x, T y) -> T { return op(x, y); });
  });
}

// Max, Min, Sum, Mean: any number of inputs, all broadcast together.
template <TypeSet S, class Op>
Status run_variadic(RunContext& ctx, const Op& op, bool mean) {
  const size_t n = ctx.num_inputs();
  if (n == 0) return invalid_input(ctx.where() + ": needs at least one input");
  EMBER_TRY(require_inputs(ctx, n, n));
  std::vector<Shape> shapes;
  for (size_t i = 0; i < n; ++i) {
    EMBER_TRY(require_same_dtype(ctx, 0, i));
    shapes.push_back(ctx.input(i).shape());
  }
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes(shapes, ctx.where()));
  const DType dtype = ctx.input(0).dtype();
  if (!dispatch_dtype(dtype, [](auto) {})) return unsupported_dtype(ctx, dtype);
  Tensor& out = ctx.allocate_output(0, dtype, std::move(shape));
  return dispatch_types<S>(ctx, dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto apply = [&op](T x, T y) -> T { return op(x, y); };
    if (n == 1) {
      broadcast_binary<T, T, T>(ctx.input(0), ctx.input(0), out, [](T x, T) { return x; });
    } else {
      broadcast_binary<T, T, T>(ctx.input(0), ctx.input(1), out, apply);
      for (size_t i = 2; i < n; ++i) broadcast_binary<T, T, T>(out, ctx.input(i), out, apply);
    }
    if (mean) {
      const T count = static_cast<T>(n);
      T* o = out.mutable_data<T>();
      map_unary(o, o, out.numel(), [count](T v) { return divide(v, count); });
    }
  });
}

}  // namespace

Result<Tensor*> begin_binary(RunContext& ctx, DType out_dtype) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  EMBER_TRY(require_same_dtype(ctx, 0, 1));
  const DType in_dtype = ctx.input(0).dtype();
  if (!dispatch_dtype(in_dtype, [](auto) {})) return unsupported_dtype(ctx, in_dtype);
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({ctx.input(0).shape(), ctx.input(1).shape()}, ctx.where()));
  return &ctx.allocate_output(0, out_dtype == DType::kUndefined ? in_dtype : out_dtype, std::move(shape));
}

Status run_add(RunContext& ctx) { return run_same_type_binary<TypeSet::kNumber>(ctx, AddOp{}); }

Status run_sub(RunContext& ctx) {
  return run_same_type_binary<TypeSet::kNumber>(ctx, [](auto a, auto b) { return wrapping_sub(a, b); });
}

Status run_mul(RunContext& ctx) {
  return run_same_type_binary<TypeSet::kNumber>(ctx, [](auto a, auto b) { return wrapping_mul(a, b); });
}

Status run_div(RunContext& ctx) {
  return run_same_type_binary<TypeSet::kNumber>(ctx, [](auto a, auto b) { return divide(a, b); });
}

Status run_mod(RunContext& ctx) {
  const int64_t fmod = ctx.node.attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) return invalid_input(ctx.where() + ": attribute fmod must be 0 or 1");
  EMBER_TRY(require_inputs(ctx, 2, 2));
  if (fmod == 0 && traits(ctx.input(0).dtype()).is_float)
    return invalid_input(ctx.where() + ": fmod must be 1 for floating-point inputs");
  return run_same_type_binary<TypeSet::kNumber>(ctx, [fmod](auto a, auto b) {
    using T = decltype(a);
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      return fmod ? truncated_mod(a, b) : floored_mod(a, b);
    }
  });
}

// Pow: the exponent may have another type than the base; the result has the base's type.
Status run_pow(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  const Tensor& y = ctx.input(1);
  if (!dispatch_dtype(x.dtype(), [](auto) {})) return unsupported_dtype(ctx, x.dtype());
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({x.shape(), y.shape()}, ctx.where()));
  Tensor& out = ctx.allocate_output(0, x.dtype(), std::move(shape));
  Status inner = Status::Ok();
  Status outer = dispatch_types<TypeSet::kNumber>(ctx, x.dtype(), [&](auto xtag) {
    using TX = decltype(xtag);
    inner = dispatch_types<TypeSet::kNumber>(ctx, y.dtype(), [&](auto ytag) {
      using TY = decltype(ytag);
      // Small integer exponents (x^2 in decomposed norms, x^3 in GPT-2's tanh GELU) are
      // multiplications: within an ulp or two of pow, and many times faster.
      if constexpr (std::is_floating_point_v<TX>) {
        const double e = y.numel() == 1 ? static_cast<double>(y.data<TY>()[0]) : 0.0;
        if (out.shape() == x.shape() && (e == 2 || e == 3 || e == 4)) {
          const TX* in = x.data<TX>();
          TX* o = out.mutable_data<TX>();
          if (e == 2) map_unary(in, o, x.numel(), [](TX v) { return v * v; });
          if (e == 3) map_unary(in, o, x.numel(), [](TX v) { return v * v * v; });
          if (e == 4) map_unary(in, o, x.numel(), [](TX v) { return (v * v) * (v * v); });
          return;
        }
      }
      broadcast_binary<TX, TY, TX>(x, y, out, [](TX a, TY b) { return pow_value(a, b); }, kTranscendentalGrain);
    });
  });
  EMBER_TRY(outer);
  return inner;
}

Status run_max(RunContext& ctx) { return run_variadic<TypeSet::kNumber>(ctx, MaxOp{}, false); }
Status run_min(RunContext& ctx) { return run_variadic<TypeSet::kNumber>(ctx, MinOp{}, false); }
Status run_sum(RunContext& ctx) { return run_variadic<TypeSet::kNumber>(ctx, AddOp{}, false); }
Status run_mean(RunContext& ctx) { return run_variadic<TypeSet::kFloat>(ctx, AddOp{}, true); }

}  // namespace ember::runtime
