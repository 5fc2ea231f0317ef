// Gradients of sequence and optional values in the backward pass (grad_rule.h: SequenceGrad,
// ValueLayout). The tensor path never comes here: a model without sequences or optionals
// records no layout, and the backward interpreter skips all of this.
//   gradient of a sequence s = [t_0 .. t_{n-1}]:  [dL/dt_0 .. dL/dt_{n-1}], undefined = zero
//   gradient of an optional o holding v:           dL/dv (a tensor or a sequence gradient)
//   two contributions to one sequence add element by element (undefined + g = g).
#pragma once
#include <string>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/value.h"
#include "runtime/grad/grad_rule.h"
#include "runtime/tensor_pool.h"

namespace ember::runtime::grad {

// The layout the backward pass keeps of a sequence or an optional from the forward pass.
ValueLayout layout_of(const Value& value);

// acc += g, element by element, after checking g against the value's layout: as many elements,
// each defined one f32 of its element's shape. `where` names the node and input for errors.
Status accumulate_sequence_grad(TensorAllocator& pool, const ValueLayout& layout, SequenceGrad& acc, SequenceGrad&& g,
                                const std::string& where);

// "a sequence of 3 tensors", "an optional sequence", "an empty optional": messages.
std::string describe_layout(const ValueLayout& layout);

}  // namespace ember::runtime::grad
