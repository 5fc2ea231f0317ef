// Transpose. The permuted view is coalesced first (shape_strided_copy.h), which gives three
// cases: the bytes are already in output order (a view, no copy); the innermost axis stays
// innermost, e.g. attention's [0,2,1,3] (block copies); or the last two axes swap, possibly
// batched (cache-blocked tiles). Anything else takes the general strided copy.
#include <algorithm>
#include <numeric>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {
namespace {

constexpr int64_t kTile = 32;  // 32x32 elements: source and destination tiles stay in L1

// True when the coalesced layout is a (batched) swap of the last two axes.
bool is_batched_2d_swap(const StridedLayout& l) {
  const size_t r = l.shape.size();
  return r >= 2 && l.strides[r - 2] == 1 && l.strides[r - 1] == l.shape[r - 2] && l.shape[r - 2] >= 8 &&
         l.shape[r - 1] >= 8;
}

template <class T>
void transpose_tiles(const T* src, T* dst, const StridedLayout& l) {
  const size_t r = l.shape.size();
  const int64_t rows = l.shape[r - 2];
  const int64_t cols = l.shape[r - 1];
  const int64_t col_stride = l.strides[r - 1];
  const int64_t batches = product(l.shape, 0, r - 2);
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  const int64_t grain = std::max<int64_t>(1, kCopyGrainElements / (kTile * cols));
  parallel_for(batches * row_tiles, grain, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t batch = job / row_tiles;
      int64_t offset = 0;
      for (int64_t d = int64_t(r) - 3, rest = batch; d >= 0; --d) {
        offset += (rest % l.shape[size_t(d)]) * l.strides[size_t(d)];
        rest /= l.shape[size_t(d)];
      }
      const T* in = src + offset;
      T* out = dst + batch * rows * cols;
      const int64_t i0 = (job % row_tiles) * kTile;
      const int64_t i1 = std::min(rows, i0 + kTile);
      for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
        const int64_t j1 = std::min(cols, j0 + kTile);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < j1; ++j) out[i * cols + j] = in[i + j * col_stride];
      }
    }
  });
}

Result<std::vector<int64_t>> read_permutation(const RunContext& ctx, int rank) {
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (!ctx.node.find_attr("perm")) {
    perm.resize(size_t(rank));
    std::iota(perm.rbegin(), perm.rend(), 0);  // default: reverse the axes
  }
  std::vector<bool> seen(size_t(rank), false);
  bool valid = perm.size() == size_t(rank);
  for (int64_t p : perm) {
    valid = valid && p >= 0 && p < rank && !seen[size_t(p)];
    if (valid) seen[size_t(p)] = true;
  }
  if (!valid) {
    std::string list;
    for (int64_t p : perm) list += (list.empty() ? "" : ", ") + std::to_string(p);
    return invalid_input(ctx.where() + ": perm [" + list + "] is not a permutation of " + std::to_string(rank) + " axes");
  }
  return perm;
}

}  // namespace

Status run_transpose(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> perm, read_permutation(ctx, in.rank()));
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape());
  Shape out_shape;
  std::vector<int64_t> src_strides;
  for (int64_t p : perm) {
    out_shape.push_back(in.shape()[size_t(p)]);
    src_strides.push_back(in_strides[size_t(p)]);
  }
  const StridedLayout layout = coalesce(out_shape, src_strides);
  if (layout.shape.empty() || (layout.shape.size() == 1 && layout.strides[0] == 1)) {
    ctx.outputs[0] = in.reshaped(std::move(out_shape));  // same element order: a view
    return Status::Ok();
  }
  const bool known = dispatch_storage(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = allocate_elements<T>(ctx, 0, in.dtype(), out_shape);
    if (is_batched_2d_swap(layout))
      transpose_tiles(elements<T>(in), out, layout);
    else
      copy_strided(elements<T>(in), out, layout.shape, layout.strides);
  });
  if (!known) return unsupported_dtype(ctx, in.dtype());
  return Status::Ok();
}

}  // namespace ember::runtime
