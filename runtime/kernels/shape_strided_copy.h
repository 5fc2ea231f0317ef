// Strided copy: the one loop behind Transpose, Slice and Expand. Element (i0..ik) of the
// contiguous output comes from src[sum(i_d * strides[d])]; strides may be 0 (broadcast) or
// negative (reversed). Dimensions are coalesced first, so a transpose that keeps the last
// axis becomes a run of block copies and a broadcast of whole rows becomes fills.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "runtime/parallel.h"

namespace ember::runtime {

struct StridedLayout {
  Shape shape;                   // output dims, size-1 dims dropped, mergeable dims merged
  std::vector<int64_t> strides;  // source stride per dim
};

// Drops size-1 dims and merges dim d with d+1 when the source walks them as one.
inline StridedLayout coalesce(const Shape& shape, const std::vector<int64_t>& strides) {
  StridedLayout out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!out.shape.empty() && out.strides.back() == strides[d] * shape[d]) {
      out.shape.back() *= shape[d];
      out.strides.back() = strides[d];
      continue;
    }
    out.shape.push_back(shape[d]);
    out.strides.push_back(strides[d]);
  }
  return out;
}

// Rows per thread chunk so that each chunk moves at least this many elements.
inline constexpr int64_t kCopyGrainElements = 1 << 15;

template <class T>
void copy_strided(const T* src, T* dst, const Shape& out_shape, const std::vector<int64_t>& src_strides) {
  const int64_t total = shape_numel(out_shape);
  if (total == 0) return;
  const StridedLayout layout = coalesce(out_shape, src_strides);
  if (layout.shape.empty()) {  // every dim has size 1
    dst[0] = src[0];
    return;
  }
  const Shape& shape = layout.shape;
  const std::vector<int64_t>& strides = layout.strides;
  const int outer_rank = static_cast<int>(shape.size()) - 1;
  const int64_t inner = shape.back();
  const int64_t inner_stride = strides.back();
  const int64_t rows = total / inner;
  parallel_for(rows, std::max<int64_t>(1, kCopyGrainElements / inner), [&](int64_t begin, int64_t end) {
    std::vector<int64_t> index(static_cast<size_t>(outer_rank), 0);
    int64_t offset = 0;
    int64_t rest = begin;
    for (int d = outer_rank - 1; d >= 0; --d) {
      index[size_t(d)] = rest % shape[size_t(d)];
      rest /= shape[size_t(d)];
      offset += index[size_t(d)] * strides[size_t(d)];
    }
    T* out = dst + begin * inner;
    for (int64_t row = begin; row < end; ++row, out += inner) {
      const T* in = src + offset;
      if (inner_stride == 1) {
        std::copy_n(in, inner, out);
      } else if (inner_stride == 0) {
        std::fill_n(out, inner, *in);
      } else {
        for (int64_t i = 0; i < inner; ++i) out[i] = in[i * inner_stride];
      }
      for (int d = outer_rank - 1; d >= 0; --d) {  // odometer step to the next row
        offset += strides[size_t(d)];
        if (++index[size_t(d)] < shape[size_t(d)]) break;
        offset -= strides[size_t(d)] * shape[size_t(d)];
        index[size_t(d)] = 0;
      }
    }
  });
}

}  // namespace ember::runtime
