#include "runtime/grad/loop_scan_values.h"

#include <cstring>

namespace ember::runtime::grad {
namespace {

// A tensor seen as [outer, n, inner] around `axis`, in bytes for inner.
struct AxisSplit {
  int64_t outer = 1, n = 1;
  size_t inner_bytes = 0;
};
AxisSplit split_at(const Tensor& t, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < axis; ++d) s.outer *= t.dim(int(d));
  s.n = t.dim(int(axis));
  const int64_t rows = s.outer * s.n;
  s.inner_bytes = rows ? t.nbytes() / size_t(rows) : 0;
  return s;
}

}  // namespace

// A copy of slice `index` of `t` along `axis` (the axis removed); any fixed-width type.
Tensor slice_along(const Tensor& t, int64_t axis, int64_t index) {
  Shape shape = t.shape();
  shape.erase(shape.begin() + axis);
  Tensor out = Tensor::zeros(t.dtype(), shape);
  const AxisSplit s = split_at(t, axis);
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw_mutable());
  for (int64_t o = 0; o < s.outer; ++o)
    std::memcpy(dst + size_t(o) * s.inner_bytes, src + size_t(o * s.n + index) * s.inner_bytes, s.inner_bytes);
  return out;
}

// dst's slice `index` along `axis` += src (f32).
void add_to_slice(Tensor& dst, int64_t axis, int64_t index, const Tensor& src) {
  const AxisSplit s = split_at(dst, axis);
  const size_t inner = s.inner_bytes / sizeof(float);
  float* d = dst.mutable_data<float>();
  const float* x = src.data<float>();
  for (int64_t o = 0; o < s.outer; ++o)
    for (size_t i = 0; i < inner; ++i) d[size_t(o * s.n + index) * inner + i] += x[size_t(o) * inner + i];
}

// acc += g (f32); an undefined acc becomes a copy of g.
void accumulate(Tensor& acc, const Tensor& g) {
  if (!acc.defined()) {
    acc = g.clone();
    return;
  }
  float* a = acc.mutable_data<float>();
  const float* x = g.data<float>();
  const int64_t n = acc.numel();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) a[i] += x[i];
}

SequenceGrad clone_sequence(const SequenceGrad& g) {
  SequenceGrad out(g.size());
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].defined()) out[i] = g[i].clone();
  return out;
}

// acc += g element by element (acc empty: zeros of g's length); acc's tensors are its own.
void accumulate_sequence(SequenceGrad& acc, const SequenceGrad& g) {
  if (acc.empty()) acc.resize(g.size());
  for (size_t i = 0; i < g.size() && i < acc.size(); ++i)
    if (g[i].defined()) accumulate(acc[i], g[i]);
}

// Node input i as a value: the sequence or optional kept for the rule (an optional holding a
// tensor has that tensor as its input too, but a body must see the optional), else the tensor.
Value value_at(const BackwardContext& ctx, size_t i) {
  if (i < ctx.input_values.size() && ctx.input_values[i]) return *ctx.input_values[i];
  if (ctx.has_input(i)) return ctx.input(i);
  return Value();
}

// Values a gradient can flow into: f32 tensors, sequences of f32 tensors, and optionals
// holding one of them.
bool is_differentiable(const Value& v) {
  if (v.is_optional()) return v.has_element() && is_differentiable(v.element());
  if (v.is_tensor()) return v.tensor().defined() && v.tensor().dtype() == DType::kF32;
  return v.is_sequence() && v.depth() == 1 && v.elem_type() == DType::kF32;
}

// A carried value may be an empty optional now and hold a tensor in a later iteration.
bool may_carry_gradient(const Value& v) {
  if (v.is_optional() && !v.has_element()) return v.depth() <= 1 && (v.elem_type() == DType::kF32 || v.elem_type() == DType::kUndefined);
  return is_differentiable(v);
}

const Value& held(const Value& v) { return v.is_optional() && v.has_element() ? v.element() : v; }

}  // namespace ember::runtime::grad
