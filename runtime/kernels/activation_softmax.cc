// Softmax, LogSoftmax and Hardmax. The input is viewed as [outer, n, inner] with n the
// normalised extent: one axis from opset 13 on, all dims from `axis` on before (the
// "coerce to 2-D" rule, inner = 1). Each slice subtracts its max before exp, and sums in
// double, so large logits neither overflow nor lose precision.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "runtime/kernels/activation_ops.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/fast_math.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime {
namespace {

enum class Normalizer { kSoftmax, kLogSoftmax, kHardmax };

// The max and the double-precision sum of a row, each kept in kVectorBlock independent
// lanes so both loops vectorise; NaN inputs reach the output through exp either way.
template <class T>
T row_max(const T* x, int64_t n) {
  T lanes[kVectorBlock];
  for (int64_t k = 0; k < kVectorBlock; ++k) lanes[k] = x[0];
  int64_t i = 0;
  for (; i + kVectorBlock <= n; i += kVectorBlock)
    for (int64_t k = 0; k < kVectorBlock; ++k) lanes[k] = x[i + k] > lanes[k] ? x[i + k] : lanes[k];
  T max = x[0];
  for (int64_t k = 0; k < kVectorBlock; ++k) max = lanes[k] > max ? lanes[k] : max;
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  return max;
}

template <class T>
double row_sum(const T* x, int64_t n) {
  double lanes[kVectorBlock] = {};
  int64_t i = 0;
  for (; i + kVectorBlock <= n; i += kVectorBlock)
    for (int64_t k = 0; k < kVectorBlock; ++k) lanes[k] += static_cast<double>(x[i + k]);
  double sum = 0;
  for (int64_t k = 0; k < kVectorBlock; ++k) sum += lanes[k];
  for (; i < n; ++i) sum += static_cast<double>(x[i]);
  return sum;
}

// One contiguous slice (inner == 1), the common case (last axis).
template <class T>
void normalize_row(const T* x, T* y, int64_t n, Normalizer kind) {
  if (kind == Normalizer::kHardmax) {
    const int64_t best = std::max_element(x, x + n) - x;  // first maximum, as ONNX asks
    std::fill(y, y + n, T(0));
    y[best] = T(1);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (kind == Normalizer::kSoftmax) return vmath::softmax(x, y, n);  // the per-ISA vector build
  }
  T max;
  double sum;
  // exp goes into y first (LogSoftmax overwrites it below), then the sum.
  if constexpr (std::is_same_v<T, float>) {  // the per-ISA vector build
    max = vmath::max(x, n);
    vmath::exp_shifted(x, y, n, max);
    sum = vmath::sum(y, n);
  } else {
    max = row_max(x, n);
    blocked_loop(0, n, [&](int64_t k) { y[k] = exp_value(x[k] - max); });
    sum = row_sum(y, n);
  }
  if (kind == Normalizer::kSoftmax) {
    // One division per row, then products: within an ulp of y / sum, at the multiplier's rate.
    const T inv = static_cast<T>(1.0 / sum);
    blocked_loop(0, n, [&](int64_t i) { y[i] *= inv; });
  } else {
    // (x - max) is exact; adding max back into log(sum) first would round at max's scale.
    const T log_sum = static_cast<T>(std::log(sum));
    blocked_loop(0, n, [&](int64_t i) { y[i] = (x[i] - max) - log_sum; });
  }
}

// A strided slice set: n rows of `inner` lanes; each lane is normalised independently,
// walking rows so memory is read contiguously.
template <class T>
void normalize_lanes(const T* x, T* y, int64_t n, int64_t inner, Normalizer kind, std::vector<T>& best,
                     std::vector<double>& sum) {
  best.assign(x, x + inner);
  std::vector<int64_t> arg(kind == Normalizer::kHardmax ? inner : 0, 0);
  for (int64_t k = 1; k < n; ++k)
    for (int64_t j = 0; j < inner; ++j)
      if (x[k * inner + j] > best[j]) {
        best[j] = x[k * inner + j];
        if (kind == Normalizer::kHardmax) arg[j] = k;
      }
  if (kind == Normalizer::kHardmax) {
    std::fill(y, y + n * inner, T(0));
    for (int64_t j = 0; j < inner; ++j) y[arg[j] * inner + j] = T(1);
    return;
  }
  sum.assign(inner, 0.0);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < inner; ++j) {
      const T e = exp_value(x[k * inner + j] - best[j]);
      if (kind == Normalizer::kSoftmax) y[k * inner + j] = e;
      sum[j] += static_cast<double>(e);
    }
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < inner; ++j) {
      if (kind == Normalizer::kSoftmax) {
        y[k * inner + j] /= static_cast<T>(sum[j]);
      } else {
        y[k * inner + j] = (x[k * inner + j] - best[j]) - static_cast<T>(std::log(sum[j]));
      }
    }
}

Status run_normalizer(RunContext& ctx, Normalizer kind, bool coerce_2d) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const Shape& shape = x.shape();
  const int rank = x.rank();
  const int64_t default_axis = coerce_2d ? 1 : -1;
  const int64_t axis_attr = ctx.node.attr_int("axis", default_axis);
  int axis = 0;
  if (coerce_2d) {
    // Opset < 13 accepts axis == rank (an empty second factor).
    const int64_t a = axis_attr < 0 ? axis_attr + rank : axis_attr;
    if (a < 0 || a > rank)
      return invalid_input(ctx.where() + ": axis " + std::to_string(axis_attr) + " is out of range for rank " +
                           std::to_string(rank));
    axis = static_cast<int>(a);
  } else {
    EMBER_ASSIGN_OR_RETURN(axis, normalize_axis(axis_attr, rank, ctx.where()));
  }
  int64_t outer = 1, n = 1, inner = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t dim = shape[static_cast<size_t>(d)];
    if (d < axis) {
      outer *= dim;
    } else if (d == axis || coerce_2d) {
      n *= dim;
    } else {
      inner *= dim;
    }
  }
  return dispatch_types<TypeSet::kFloat>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.allocate_output(0, x.dtype(), shape);
    if (x.numel() == 0) return;
    const T* in = x.data<T>();
    T* o = out.mutable_data<T>();
    const int64_t slice = n * inner;
    const int64_t grain = rows_per_chunk(slice, kTranscendentalGrain);
    parallel_for(outer, grain, [&](int64_t begin, int64_t end) {
      std::vector<T> best;
      std::vector<double> sum;
      for (int64_t i = begin; i < end; ++i) {
        if (inner == 1) {
          normalize_row(in + i * slice, o + i * slice, n, kind);
        } else {
          normalize_lanes(in + i * slice, o + i * slice, n, inner, kind, best, sum);
        }
      }
    });
  });
}

}  // namespace

void softmax_row(const float* x, float* y, int64_t n) { normalize_row(x, y, n, Normalizer::kSoftmax); }

// ember.fused AddSoftmax(A, B) = Softmax(A + B) over the last axis (rewrite_float.h):
// attention's additive mask, added to each row of scores while it is in cache. A and B
// broadcast (masks are [B, 1, 1, S] or [1, 1, S, S]); the same float additions and the same
// softmax as the two ops, so the same results.
Status run_add_softmax(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != DType::kF32) return unsupported_dtype(ctx, a.dtype());
  if (b.dtype() != DType::kF32) return unsupported_dtype(ctx, b.dtype());
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({a.shape(), b.shape()}, ctx.where()));
  Tensor& out = ctx.allocate_output(0, DType::kF32, shape);
  if (out.numel() == 0) return Status::Ok();
  if (shape.empty()) shape = {1};
  const size_t rank = shape.size();
  const int64_t n = shape.back(), rows = out.numel() / n;
  const std::vector<int64_t> sa = broadcast_strides(a.shape(), shape), sb = broadcast_strides(b.shape(), shape);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* y = out.mutable_data<float>();
  parallel_for(rows, rows_per_chunk(n, kTranscendentalGrain), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const std::array<int64_t, 2> offsets = offsets_of<2>(r, shape, rank - 1, {sa.data(), sb.data()});
      const int64_t oa = offsets[0], ob = offsets[1];  // named copies: clang 14 cannot capture bindings
      float* row = y + r * n;
      const int64_t la = sa[rank - 1], lb = sb[rank - 1];
      if (la == 1 && lb == 1) {  // the common case, split out so that it vectorises
        blocked_loop(0, n, [&](int64_t i) { row[i] = pa[oa + i] + pb[ob + i]; });
      } else {
        for (int64_t i = 0; i < n; ++i) row[i] = pa[oa + i * la] + pb[ob + i * lb];
      }
      normalize_row(static_cast<const float*>(row), row, n, Normalizer::kSoftmax);
    }
  });
  return Status::Ok();
}

Status run_softmax_coerced(RunContext& ctx) { return run_normalizer(ctx, Normalizer::kSoftmax, true); }
Status run_softmax(RunContext& ctx) { return run_normalizer(ctx, Normalizer::kSoftmax, false); }
Status run_log_softmax_coerced(RunContext& ctx) { return run_normalizer(ctx, Normalizer::kLogSoftmax, true); }
Status run_log_softmax(RunContext& ctx) { return run_normalizer(ctx, Normalizer::kLogSoftmax, false); }
Status run_hardmax_coerced(RunContext& ctx) { return run_normalizer(ctx, Normalizer::kHardmax, true); }
Status run_hardmax(RunContext& ctx) { return run_normalizer(ctx, Normalizer::kHardmax, false); }

}  // namespace ember::runtime
