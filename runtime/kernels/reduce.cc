// The reduce family: Reduce{Sum,Mean,SumSquare,L1,L2,LogSum,LogSumExp,Prod,Max,Min}
// (here), ArgMax/ArgMin (reduce_arg.cc) and CumSum (reduce_cumsum.cc).
// Axes come from an attribute up to opset 12 (ReduceSum) or 17 (the others), then from an
// optional input; with the input form an empty axes list reduces everything, unless
// noop_with_empty_axes=1, which returns the input unchanged. Empty reductions give the
// identity of the operation (0 for sums, 1 for Prod, -inf for Max, NaN for Mean).
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/kernels/reduce_ops.h"
#include "runtime/kernels/reduce_plan.h"

namespace ember::runtime {
namespace {

enum class Reduction { kSum, kMean, kSumSquare, kL1, kL2, kLogSum, kLogSumExp, kProd, kMax, kMin };
enum class AxesFrom { kAttribute, kInput };

template <class T>
T to_element(double v) {
  if constexpr (std::is_integral_v<T>) {
    return saturate_to_integer<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <class T>
void reduce_extreme(const ReducePlan& plan, bool is_max, const T* x, T* y) {
  using Limits = std::numeric_limits<T>;
  const T start = is_max ? (Limits::has_infinity ? -Limits::infinity() : Limits::lowest())
                         : (Limits::has_infinity ? Limits::infinity() : Limits::max());
  std::fill(y, y + plan.out_numel, start);
  const auto identity = [](T v, int64_t) { return v; };
  // NaN wins, as in numpy.max.
  if (is_max) {
    accumulate(plan, x, y, identity, [](T a, T b) { return (b > a || is_nan(b)) ? b : a; });
  } else {
    accumulate(plan, x, y, identity, [](T a, T b) { return (b < a || is_nan(b)) ? b : a; });
  }
}

template <class T>
void reduce_typed(const ReducePlan& plan, Reduction r, const T* x, T* y) {
  if (r == Reduction::kMax || r == Reduction::kMin) return reduce_extreme(plan, r == Reduction::kMax, x, y);
  using A = Accumulator<T>;
  std::vector<A> acc(static_cast<size_t>(plan.out_numel), r == Reduction::kProd ? A(1) : A(0));
  const auto plus = [](A a, A b) { return wrapping_add(a, b); };
  std::vector<double> shift;
  switch (r) {
    case Reduction::kSumSquare:
    case Reduction::kL2:
      accumulate(plan, x, acc.data(), [](T v, int64_t) { return wrapping_mul(A(v), A(v)); }, plus);
      break;
    case Reduction::kL1:
      accumulate(plan, x, acc.data(), [](T v, int64_t) {
        if constexpr (std::is_signed_v<T>) {
          return v < T(0) ? wrapping_sub(A(0), A(v)) : A(v);
        } else {
          return A(v);
        }
      }, plus);
      break;
    case Reduction::kProd:
      accumulate(plan, x, acc.data(), [](T v, int64_t) { return A(v); }, [](A a, A b) { return wrapping_mul(a, b); });
      break;
    case Reduction::kLogSumExp: {
      // Subtract each output's max before exp so large inputs do not overflow.
      shift.assign(acc.size(), -std::numeric_limits<double>::infinity());
      accumulate(plan, x, shift.data(), [](T v, int64_t) { return static_cast<double>(v); },
                 [](double a, double b) { return b > a ? b : a; });
      for (double& s : shift)
        if (!std::isfinite(s)) s = 0;
      accumulate(
          plan, x, acc.data(),
          [&shift](T v, int64_t o) { return static_cast<A>(std::exp(static_cast<double>(v) - shift[size_t(o)])); },
          plus);
      break;
    }
    default:
      accumulate(plan, x, acc.data(), [](T v, int64_t) { return A(v); }, plus);
      break;
  }
  const int64_t count = plan.reduce_count;
  for (int64_t o = 0; o < plan.out_numel; ++o) {
    const A v = acc[size_t(o)];
    switch (r) {
      case Reduction::kMean:
        if constexpr (std::is_integral_v<A>) {
          y[o] = count ? static_cast<T>(v / static_cast<A>(count)) : T(0);
        } else {
          y[o] = static_cast<T>(v / static_cast<double>(count));
        }
        break;
      case Reduction::kL2: y[o] = to_element<T>(std::sqrt(static_cast<double>(v))); break;
      case Reduction::kLogSum: y[o] = to_element<T>(std::log(static_cast<double>(v))); break;
      case Reduction::kLogSumExp: y[o] = to_element<T>(std::log(static_cast<double>(v)) + shift[size_t(o)]); break;
      default: y[o] = static_cast<T>(v); break;
    }
  }
}

Status reduce(RunContext& ctx, Reduction r, AxesFrom from) {
  EMBER_TRY(require_inputs(ctx, 1, from == AxesFrom::kInput ? 2 : 1));
  const Tensor& x = ctx.input(0);
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  std::vector<int64_t> axes;
  if (from == AxesFrom::kAttribute) {
    axes = ctx.node.attr_ints("axes");
  } else {
    EMBER_ASSIGN_OR_RETURN(axes, read_int_list(ctx, 1));
    if (axes.empty() && ctx.node.attr_int("noop_with_empty_axes", 0) != 0) {
      if (!dispatch_dtype(x.dtype(), [](auto) {})) return unsupported_dtype(ctx, x.dtype());
      Tensor& out = ctx.allocate_output(0, x.dtype(), x.shape());
      if (x.nbytes()) std::memcpy(out.raw_mutable(), x.raw(), x.nbytes());
      return Status::Ok();
    }
  }
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(x.shape(), axes, ctx.where()));
  return dispatch_types<TypeSet::kNumber>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.allocate_output(0, x.dtype(), keepdims ? plan.kept_shape : plan.squeezed_shape);
    reduce_typed<T>(plan, r, x.data<T>(), out.mutable_data<T>());
  });
}

template <Reduction R, AxesFrom A>
Status run_reduce(RunContext& ctx) {
  return reduce(ctx, R, A);
}

// Both forms of one reduction: axes attribute since opset 1, axes input since `input_since`.
struct ReduceEntry {
  const char* op;
  int input_since;
  RunFunction with_attribute;
  RunFunction with_input;
};

template <Reduction R>
constexpr ReduceEntry reduce_entry(const char* op, int input_since) {
  return {op, input_since, with_half_support<run_reduce<R, AxesFrom::kAttribute>>,
          with_half_support<run_reduce<R, AxesFrom::kInput>>};
}

constexpr ReduceEntry kReduceKernels[] = {
    reduce_entry<Reduction::kSum>("ReduceSum", 13),
    reduce_entry<Reduction::kMean>("ReduceMean", 18),
    reduce_entry<Reduction::kSumSquare>("ReduceSumSquare", 18),
    reduce_entry<Reduction::kL1>("ReduceL1", 18),
    reduce_entry<Reduction::kL2>("ReduceL2", 18),
    reduce_entry<Reduction::kLogSum>("ReduceLogSum", 18),
    reduce_entry<Reduction::kLogSumExp>("ReduceLogSumExp", 18),
    reduce_entry<Reduction::kProd>("ReduceProd", 18),
    reduce_entry<Reduction::kMax>("ReduceMax", 18),
    reduce_entry<Reduction::kMin>("ReduceMin", 18),
};

}  // namespace

void register_reduce_kernels(KernelRegistry& registry) {
  for (const ReduceEntry& e : kReduceKernels) {
    registry.add_function(e.op, "", 1, e.with_attribute);
    registry.add_function(e.op, "", e.input_since, e.with_input);
  }
  registry.add_function("ArgMax", "", 1, with_half_support<run_arg_max>);
  registry.add_function("ArgMin", "", 1, with_half_support<run_arg_min>);
  registry.add_function("CumSum", "", 11, with_half_support<run_cum_sum>);
}

}  // namespace ember::runtime
