// Helpers shared by kernel families: axis normalisation, numpy broadcasting, typed errors.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// Maps a possibly negative axis into [0, rank); error when out of range.
Result<int> normalize_axis(int64_t axis, int rank, const std::string& where);

// Numpy-style broadcast of two or more shapes; error names the shapes.
Result<Shape> broadcast_shapes(const std::vector<Shape>& shapes, const std::string& where);

// Strides (in elements) of `shape` as seen from `out_shape`: 0 where a dim is broadcast.
// `shape` is right-aligned against out_shape.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape);

// Contiguous row-major strides.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// fn(batch) for every batch of a batched product whose per-batch GEMM does `fma_per_batch`
// multiply-adds. Attention's per-head products are small (BERT's 128 x 128 x 64), below the
// size sgemm splits across threads, so the batches are split instead, each running whole on
// one thread (the same arithmetic either way).
void for_each_batch(int64_t batches, int64_t fma_per_batch, const std::function<void(int64_t)>& fn);

// Entry `index` of the row-major index space dims[0, axes) (a broadcast product's batch axes)
// as offsets through each operand's strides: offsets[k] = sum over i of index_i * strides[k][i].
template <size_t N>
std::array<int64_t, N> offsets_of(int64_t index, const Shape& dims, size_t axes,
                                  const std::array<const int64_t*, N>& strides) {
  std::array<int64_t, N> offsets{};
  for (size_t axis = axes; axis-- > 0;) {
    const int64_t i = index % dims[axis];
    index /= dims[axis];
    for (size_t k = 0; k < N; ++k) offsets[k] += i * strides[k][axis];
  }
  return offsets;
}

// Reads an optional constant-like int64 list input (axes, shape, pads...) at run time.
Result<std::vector<int64_t>> read_int_list(const RunContext& ctx, size_t input_index);

// Error for a dtype a kernel does not handle.
Status unsupported_dtype(const RunContext& ctx, DType dtype);

}  // namespace ember::runtime
