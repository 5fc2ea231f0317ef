#include "runtime/grad/sequence_grads.h"

namespace ember::runtime::grad {

ValueLayout layout_of(const Value& value) {
  ValueLayout layout;
  const Value* inner = &value;
  if (value.is_optional()) {
    layout.optional = true;
    layout.empty = !value.has_element();
    layout.sequence = value.inner_kind() == Value::Kind::kSequence;
    if (layout.empty) return layout;
    inner = &value.element();
  }
  if (inner->is_sequence()) {
    layout.sequence = true;
    if (inner->depth() == 1)
      for (const Tensor& t : inner->elements()) layout.shapes.push_back(t.shape());
  }
  return layout;
}

Status accumulate_sequence_grad(TensorAllocator& pool, const ValueLayout& layout, SequenceGrad& acc, SequenceGrad&& g,
                                const std::string& where) {
  if (g.size() != layout.shapes.size())
    return internal_error(where + ": a gradient of " + std::to_string(g.size()) + " tensors for a sequence of " +
                          std::to_string(layout.shapes.size()));
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].defined() && (g[i].dtype() != DType::kF32 || g[i].shape() != layout.shapes[i]))
      return internal_error(where + ": the gradient of element " + std::to_string(i) + " is " + shape_to_string(g[i].shape()) +
                            ", the element is " + shape_to_string(layout.shapes[i]));
  if (acc.empty()) {
    acc = std::move(g);
    return Status::Ok();
  }
  for (size_t i = 0; i < g.size(); ++i) {
    if (!g[i].defined()) continue;
    if (!acc[i].defined()) {
      acc[i] = std::move(g[i]);
      continue;
    }
    Tensor sum = pool.allocate(DType::kF32, acc[i].shape());  // either operand may be a view shared elsewhere
    const float* a = acc[i].data<float>();
    const float* b = g[i].data<float>();
    float* z = sum.mutable_data<float>();
    for (int64_t k = 0; k < sum.numel(); ++k) z[k] = a[k] + b[k];
    acc[i] = std::move(sum);
  }
  return Status::Ok();
}

std::string describe_layout(const ValueLayout& layout) {
  if (layout.optional && layout.empty) return "an empty optional";
  const std::string what = layout.sequence ? "sequence of " + std::to_string(layout.shapes.size()) + " tensors" : "tensor";
  return layout.optional ? "an optional " + what : "a " + what;
}

}  // namespace ember::runtime::grad
