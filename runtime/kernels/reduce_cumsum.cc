// CumSum along the axis given by a scalar input. exclusive=1 shifts the sums by one (the
// first is 0); reverse=1 sums from the end. Floats accumulate in double.
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/kernels/reduce_ops.h"
#include "runtime/kernels/broadcast_loop.h"

namespace ember::runtime {
namespace {

template <class T>
void cumulative_sum(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool exclusive, bool reverse) {
  using A = Accumulator<T>;
  parallel_for(outer, rows_per_chunk(n * inner), [&](int64_t begin, int64_t end) {
    std::vector<A> sum(static_cast<size_t>(inner));
    for (int64_t o = begin; o < end; ++o) {
      std::fill(sum.begin(), sum.end(), A(0));
      for (int64_t step = 0; step < n; ++step) {
        const int64_t k = reverse ? n - 1 - step : step;
        const T* in = x + (o * n + k) * inner;
        T* out = y + (o * n + k) * inner;
        for (int64_t j = 0; j < inner; ++j) {
          A& s = sum[size_t(j)];
          if (exclusive) {
            out[j] = static_cast<T>(s);
            s = wrapping_add(s, A(in[j]));
          } else {
            s = wrapping_add(s, A(in[j]));
            out[j] = static_cast<T>(s);
          }
        }
      }
    }
  });
}

}  // namespace

Status run_cum_sum(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axis_values, read_int_list(ctx, 1));
  if (axis_values.size() != 1)
    return invalid_input(ctx.where() + ": axis input must hold one value, got " + std::to_string(axis_values.size()));
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_values[0], x.rank(), ctx.where()));
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t n = x.rank() ? x.dim(axis) : 1;
  return dispatch_types<TypeSet::kNumber>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.allocate_output(0, x.dtype(), x.shape());
    cumulative_sum(x.data<T>(), out.mutable_data<T>(), outer, n, inner, exclusive, reverse);
  });
}

}  // namespace ember::runtime
