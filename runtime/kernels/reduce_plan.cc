#include "runtime/kernels/reduce_plan.h"

#include "runtime/kernels/kernel_util.h"

namespace ember::runtime {

Result<ReducePlan> plan_reduce(const Shape& shape, const std::vector<int64_t>& axes, const std::string& where) {
  const int rank = static_cast<int>(shape.size());
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (int64_t axis : axes) {
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
      return invalid_input(where + ": axis " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
    if (reduced[static_cast<size_t>(a)])
      return invalid_input(where + ": axis " + std::to_string(axis) + " is repeated");
    reduced[static_cast<size_t>(a)] = true;
  }
  ReducePlan plan;
  for (size_t i = 0; i < shape.size(); ++i) {
    plan.kept_shape.push_back(reduced[i] ? 1 : shape[i]);
    if (reduced[i]) {
      plan.reduce_count *= shape[i];
    } else {
      plan.squeezed_shape.push_back(shape[i]);
    }
  }
  plan.out_numel = shape_numel(plan.kept_shape);
  plan.runs = plan_broadcast<1>({&plan.kept_shape}, shape);
  // The leading coalesced dim is kept when its output stride is non-zero.
  if (plan.runs.strides.front()[0] != 0) plan.parallel_rows = plan.runs.dims.front();
  return plan;
}

}  // namespace ember::runtime
