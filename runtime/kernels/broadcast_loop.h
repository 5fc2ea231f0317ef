// Numpy-broadcast iteration for the elementwise and activation kernels. The output shape is
// coalesced first: size-1 dims drop out and neighbouring dims merge when every input steps
// through them the same way. Same-shape, scalar and row (last-dim) broadcasts thereby become
// one or two long runs whose inner loops are plain, vectorisable array loops; the flat output
// range is split across threads.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/parallel.h"

namespace ember::runtime {

// Elements per thread chunk: below this, threading costs more than it saves.
inline constexpr int64_t kElementwiseGrain = 1 << 15;
// Chunk for transcendental functions (exp, erf, tanh...), which cost ~10x an add.
inline constexpr int64_t kTranscendentalGrain = 1 << 12;

// Rows per thread chunk when each row holds `row_elements` elements.
inline int64_t rows_per_chunk(int64_t row_elements, int64_t grain = kElementwiseGrain) {
  return std::max<int64_t>(1, grain / std::max<int64_t>(row_elements, 1));
}

template <size_t N>
struct BroadcastPlan {
  std::vector<int64_t> dims;                    // coalesced output dims, outermost first; never empty
  std::vector<std::array<int64_t, N>> strides;  // per dim, each input's element stride (0 = broadcast)
  int64_t numel = 0;
};

template <size_t N>
BroadcastPlan<N> plan_broadcast(const std::array<const Shape*, N>& inputs, const Shape& out_shape) {
  BroadcastPlan<N> plan;
  plan.numel = shape_numel(out_shape);
  std::array<std::vector<int64_t>, N> full;
  for (size_t k = 0; k < N; ++k) full[k] = broadcast_strides(*inputs[k], out_shape);
  // Built innermost first, reversed at the end.
  for (size_t i = out_shape.size(); i-- > 0;) {
    if (out_shape[i] == 1) continue;
    std::array<int64_t, N> s{};
    for (size_t k = 0; k < N; ++k) s[k] = full[k][i];
    if (!plan.dims.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k) mergeable = mergeable && s[k] == plan.strides.back()[k] * plan.dims.back();
      if (mergeable) {
        plan.dims.back() *= out_shape[i];
        continue;
      }
    }
    plan.dims.push_back(out_shape[i]);
    plan.strides.push_back(s);
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    plan.strides.push_back({});
  }
  std::reverse(plan.dims.begin(), plan.dims.end());
  std::reverse(plan.strides.begin(), plan.strides.end());
  return plan;
}

// Calls fn(input_offsets, out_offset, length, inner_strides) for each contiguous run of the
// output elements [begin, end).
template <size_t N, class Fn>
void for_each_run(const BroadcastPlan<N>& plan, int64_t begin, int64_t end, Fn&& fn) {
  const size_t rank = plan.dims.size();
  const size_t last = rank - 1;
  std::vector<int64_t> coord(rank, 0);
  std::array<int64_t, N> offsets{};
  int64_t rest = begin;
  for (size_t d = rank; d-- > 0;) {
    coord[d] = rest % plan.dims[d];
    rest /= plan.dims[d];
    for (size_t k = 0; k < N; ++k) offsets[k] += coord[d] * plan.strides[d][k];
  }
  const int64_t inner = plan.dims[last];
  for (int64_t pos = begin; pos < end;) {
    const int64_t len = std::min(inner - coord[last], end - pos);
    fn(offsets, pos, len, plan.strides[last]);
    pos += len;
    coord[last] += len;
    for (size_t k = 0; k < N; ++k) offsets[k] += len * plan.strides[last][k];
    for (size_t d = last; d > 0 && coord[d] == plan.dims[d]; --d) {
      coord[d] = 0;
      ++coord[d - 1];
      for (size_t k = 0; k < N; ++k) offsets[k] += plan.strides[d - 1][k] - plan.dims[d] * plan.strides[d][k];
    }
  }
}

// Calls body(i) for i in [begin, end): in blocks of 16 with a constant trip count, then the
// tail. -O2's "very cheap" vectoriser refuses loops that need a scalar epilogue or an alias
// check; the fixed-size blocks need neither (`ivdep`: outputs may equal inputs, but never
// at another index), so the bodies become SIMD code.
inline constexpr int64_t kVectorBlock = 16;
template <class Body>
inline void blocked_loop(int64_t begin, int64_t end, Body&& body) {
  int64_t i = begin;
  for (; i + kVectorBlock <= end; i += kVectorBlock) {
#pragma GCC ivdep
    for (int64_t k = 0; k < kVectorBlock; ++k) body(i + k);
  }
  for (; i < end; ++i) body(i);
}

// One run of a binary op. Strides are 0 (broadcast) or 1 after coalescing; the first three
// branches are the vectorised fast paths.
template <class TA, class TB, class TO, class Op>
inline void binary_run(const TA* x, int64_t sx, const TB* y, int64_t sy, TO* z, int64_t n, const Op& op) {
  if (sx == 1 && sy == 1) {
    blocked_loop(0, n, [&](int64_t i) { z[i] = static_cast<TO>(op(x[i], y[i])); });
  } else if (sx == 0 && sy == 1) {
    const TA v = *x;
    blocked_loop(0, n, [&](int64_t i) { z[i] = static_cast<TO>(op(v, y[i])); });
  } else if (sx == 1 && sy == 0) {
    const TB v = *y;
    blocked_loop(0, n, [&](int64_t i) { z[i] = static_cast<TO>(op(x[i], v)); });
  } else {
    for (int64_t i = 0; i < n; ++i) z[i] = static_cast<TO>(op(x[i * sx], y[i * sy]));
  }
}

// out = op(a, b) with numpy broadcasting; out is already allocated with the broadcast shape.
// `out` may alias `a` or `b` when that input has the output's shape.
template <class TA, class TB, class TO, class Op>
void broadcast_binary(const Tensor& a, const Tensor& b, Tensor& out, const Op& op,
                      int64_t grain = kElementwiseGrain) {
  const BroadcastPlan<2> plan = plan_broadcast<2>({&a.shape(), &b.shape()}, out.shape());
  const TA* pa = a.data<TA>();
  const TB* pb = b.data<TB>();
  TO* po = out.mutable_data<TO>();
  parallel_for(plan.numel, grain, [&](int64_t begin, int64_t end) {
    for_each_run(plan, begin, end, [&](const std::array<int64_t, 2>& off, int64_t o, int64_t len,
                                       const std::array<int64_t, 2>& st) {
      binary_run(pa + off[0], st[0], pb + off[1], st[1], po + o, len, op);
    });
  });
}

// out[i] = op(in[i]) over n elements, split across threads. `out` may equal `in`.
template <class TI, class TO, class Op>
void map_unary(const TI* in, TO* out, int64_t n, const Op& op, int64_t grain = kElementwiseGrain) {
  parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    blocked_loop(begin, end, [&](int64_t i) { out[i] = static_cast<TO>(op(in[i])); });
  });
}

}  // namespace ember::runtime
