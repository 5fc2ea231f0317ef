// ArgMax and ArgMin: the int64 index of the extreme along `axis` (default 0), the first one
// unless select_last_index=1 (opset 12). The input is viewed as [outer, n, inner] and each
// outer block is scanned row by row, so all inner lanes advance with contiguous reads.
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
void arg_extreme(const T* x, int64_t* y, int64_t outer, int64_t n, int64_t inner, bool is_max, bool last) {
  parallel_for(outer, rows_per_chunk(n * inner), [&](int64_t begin, int64_t end) {
    std::vector<T> best(static_cast<size_t>(inner));
    for (int64_t o = begin; o < end; ++o) {
      const T* block = x + o * n * inner;
      int64_t* index = y + o * inner;
      for (int64_t j = 0; j < inner; ++j) {
        best[size_t(j)] = block[j];
        index[j] = 0;
      }
      for (int64_t k = 1; k < n; ++k)
        for (int64_t j = 0; j < inner; ++j) {
          const T v = block[k * inner + j];
          const T b = best[size_t(j)];
          const bool better = is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
          if (better) {
            best[size_t(j)] = v;
            index[j] = k;
          }
        }
    }
  });
}

Status run_arg(RunContext& ctx, bool is_max) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 0), x.rank(), ctx.where()));
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  const bool last = ctx.node.attr_int("select_last_index", 0) != 0;
  int64_t outer = 1, n = 1, inner = 1;
  Shape out_shape;
  for (int d = 0; d < x.rank(); ++d) {
    const int64_t dim = x.dim(d);
    if (d < axis) outer *= dim;
    if (d == axis) n = dim;
    if (d > axis) inner *= dim;
    if (d != axis) {
      out_shape.push_back(dim);
    } else if (keepdims) {
      out_shape.push_back(1);
    }
  }
  if (n == 0) return invalid_input(ctx.where() + ": cannot take the index of an extreme over an empty axis");
  return dispatch_types<TypeSet::kNumber>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.allocate_output(0, DType::kI64, out_shape);
    arg_extreme(x.data<T>(), out.mutable_data<int64_t>(), outer, n, inner, is_max, last);
  });
}

}  // namespace

Status run_arg_max(RunContext& ctx) { return run_arg(ctx, true); }
Status run_arg_min(RunContext& ctx) { return run_arg(ctx, false); }

}  // namespace ember::runtime
