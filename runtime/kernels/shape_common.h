// Helpers shared by the data-movement kernels (shape_*.cc, indexing*.cc). These ops never
// look at element values, only move them, so they dispatch on the element's storage size
// (1, 2, 4 or 8 bytes, or std::string) instead of on its dtype. Packed 4-bit tensors are
// unpacked to one byte per element around the kernel and packed again afterwards.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "ir/dtype.h"
#include "ir/dtype_dispatch.h"
#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_util.h"

namespace ember::runtime {

inline bool is_packed_nibbles(DType dtype) { return traits(dtype).bits == 4; }

// Calls f(T{}) with T = uint8_t/uint16_t/uint32_t/uint64_t (by element size) or std::string.
// Returns false for packed 4-bit and unknown types.
template <class F>
bool dispatch_storage(DType dtype, F&& f) {
  if (dtype == DType::kString) {
    f(std::string{});
    return true;
  }
  switch (traits(dtype).bits) {
    case 8: f(uint8_t{}); return true;
    case 16: f(uint16_t{}); return true;
    case 32: f(uint32_t{}); return true;
    case 64: f(uint64_t{}); return true;
    default: return false;
  }
}

template <class T>
const T* elements(const Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) {
    return t.string_values().data();
  } else {
    return t.data<T>();
  }
}

// Allocates output `index` and returns its first element for writing.
template <class T>
T* allocate_elements(RunContext& ctx, size_t index, DType dtype, Shape shape) {
  if constexpr (std::is_same_v<T, std::string>) {
    const auto count = static_cast<size_t>(shape_numel(shape));
    ctx.outputs[index] = Tensor::strings(std::move(shape), std::vector<std::string>(count));
    // The vector was created just above and is not const, so writing through it is sound;
    // Tensor only hands out const access because produced tensors are immutable.
    return const_cast<std::string*>(ctx.outputs[index].string_values().data());
  } else {
    return ctx.allocate_output(index, dtype, std::move(shape)).template mutable_data<T>();
  }
}

// Runs `fn` with every packed 4-bit input unpacked to u8 (one nibble per byte), then packs
// each u8 output back into the 4-bit type. Meant for kernels that only move elements.
Status run_with_nibbles_unpacked(RunContext& ctx, RunFunction fn);

template <RunFunction fn>
Status nibble_aware(RunContext& ctx) {
  return run_with_nibbles_unpacked(ctx, fn);
}

// Arithmetic views of a dtype for the few kernels here that compute (Range, scatter
// reductions, Pad's float attribute): Storage is what sits in memory, Compute what we add.
template <class T>
struct PlainArith {
  using Storage = T;
  using Compute = T;
  static Compute load(Storage v) { return v; }
  static Storage store(Compute v) { return v; }
};
struct HalfArith {
  using Storage = uint16_t;
  using Compute = float;
  static Compute load(Storage v) { return half_to_float(v); }
  static Storage store(Compute v) { return float_to_half(v); }
};
struct BFloat16Arith {
  using Storage = uint16_t;
  using Compute = float;
  static Compute load(Storage v) { return bfloat16_to_float(v); }
  static Storage store(Compute v) { return float_to_bfloat16(v); }
};

template <class F>
bool dispatch_arithmetic(DType dtype, F&& f) {
  if (dtype == DType::kF16) {
    f(HalfArith{});
    return true;
  }
  if (dtype == DType::kBF16) {
    f(BFloat16Arith{});
    return true;
  }
  return dispatch_dtype(dtype, [&](auto tag) { f(PlainArith<decltype(tag)>{}); });
}

// Normalises a list of axes against `rank`; rejects out-of-range and repeated axes.
Result<std::vector<int>> normalize_axes(const std::vector<int64_t>& axes, int rank, const std::string& where);

// Reads integer input `index` (int32/int64), naming the node and input on error.
Result<std::vector<int64_t>> read_indices(const RunContext& ctx, size_t index);

// Maps an index in [-dim, dim) to [0, dim); error otherwise.
inline Result<int64_t> wrap_index(int64_t index, int64_t dim, const std::string& where) {
  const int64_t wrapped = index < 0 ? index + dim : index;
  if (wrapped < 0 || wrapped >= dim)
    return invalid_input(where + ": index " + std::to_string(index) + " is out of range for a dimension of size " +
                         std::to_string(dim));
  return wrapped;
}

// Source offsets (in elements of `data`) for GatherElements/ScatterElements: element i of
// `indices` (same rank as data) addresses data at its own position with the axis coordinate
// replaced by its value. Checks shapes and index ranges.
Result<std::vector<int64_t>> element_offsets(const RunContext& ctx, const Tensor& data, const Tensor& indices,
                                             int axis);

// Offsets of the slices that GatherND/ScatterND address: each tuple of the last indices axis
// (k values) picks a slice of data.shape[batch_dims + k:]; leading batch_dims must match.
struct SliceOffsets {
  std::vector<int64_t> offsets;  // one per index tuple
  int64_t slice = 1;             // elements per slice
  Shape slice_shape;
};
Result<SliceOffsets> slice_offsets(const RunContext& ctx, const Tensor& data, const Tensor& indices, int64_t batch_dims);

inline int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) n *= shape[i];
  return n;
}

}  // namespace ember::runtime
