// The values Loop and Scan backward rules (grad_loop_scan.cc) move between iterations: slices
// of scanned tensors, and the carried gradients, a tensor's or a sequence's (one tensor per
// element), summed over the iterations. An optional's gradient is its element's (none when
// it is empty).
#pragma once
#include <cstdint>

#include "ir/tensor.h"
#include "ir/value.h"
#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {

// Where iteration t sits along a stacked (scanned) tensor's axis.
struct ScanAxis {
  int64_t axis = 0;
  bool reverse = false;
  int64_t position(int64_t t, int64_t length) const { return reverse ? length - 1 - t : t; }
};

// The gradient of one carried value: a tensor's, or a sequence's (one tensor per element;
// empty: none reaches it).
struct StateGrad {
  Tensor tensor;
  SequenceGrad sequence;
};

// A copy of slice `index` of `t` along `axis` (the axis removed); any fixed-width type.
Tensor slice_along(const Tensor& t, int64_t axis, int64_t index);
// dst's slice `index` along `axis` += src (f32).
void add_to_slice(Tensor& dst, int64_t axis, int64_t index, const Tensor& src);
// acc += g (f32); an undefined acc becomes a copy of g.
void accumulate(Tensor& acc, const Tensor& g);
// A copy whose tensors are its own.
SequenceGrad clone_sequence(const SequenceGrad& g);
// acc += g element by element (acc empty: zeros of g's length); acc's tensors are its own.
void accumulate_sequence(SequenceGrad& acc, const SequenceGrad& g);
// Node input i as a value: a sequence or optional kept for the rule, else a tensor (undefined
// when neither).
Value value_at(const BackwardContext& ctx, size_t i);
// Values a gradient can flow into: f32 tensors, sequences of f32 tensors, optionals holding one.
bool is_differentiable(const Value& v);
// The same, or an empty optional (of f32 or unknown type): a carried value that may hold a
// differentiable one in another iteration.
bool may_carry_gradient(const Value& v);
// What carries v's gradient: an optional's element (the optional's gradient is its element's),
// else v itself.
const Value& held(const Value& v);

}  // namespace ember::runtime::grad
