// Input validation shared by the computing kernels (elementwise, activation, normalization,
// reduce): every error names the node, so a user can find it in the model.
#pragma once
#include <cstddef>
#include <optional>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// Inputs [0, required) must be present; inputs from max_count on must be absent.
Status require_inputs(const RunContext& ctx, size_t required, size_t max_count);

// Inputs a and b must have the same element type.
Status require_same_dtype(const RunContext& ctx, size_t a, size_t b);

// Output index i is requested by the node (present and named).
bool wants_output(const RunContext& ctx, size_t i);

// Reads a one-element numeric input as double (f16/bf16 included); nullopt when omitted.
Result<std::optional<double>> read_optional_scalar(const RunContext& ctx, size_t index);

}  // namespace ember::runtime
