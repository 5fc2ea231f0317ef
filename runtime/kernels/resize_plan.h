// Resize planned as separable per-axis taps, shared by the Resize/Upsample kernel and their
// backward rule (the adjoint applies each axis's taps transposed). See resize.cc for the
// semantics (every mode, coordinate transform and nearest mode of opsets 7-19).
#pragma once
#include <cstdint>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime {

struct AxisTaps {  // per output index: `taps` input indices and weights, or outside (extrapolate)
  int64_t taps = 1;
  std::vector<int64_t> index;
  std::vector<float> weight;
  std::vector<uint8_t> outside;
};

struct ResizeStep {
  int axis = 0;
  Shape in;  // the tensor's shape before this step
  int64_t out = 0;
  AxisTaps taps;
};

struct ResizePlan {
  Shape out;
  std::vector<ResizeStep> steps;  // in the order they apply (last axis first); identity axes left out
  float extrapolation = 0;
  bool nearest = false;
};

// Plans `node` (Resize, or Upsample when `upsample`) for an input of shape `x_shape`; `inputs`
// are the node's inputs (index 0 may be null: only its shape is used). Errors name the node.
Result<ResizePlan> plan_resize(const ir::Node& node, int64_t opset, bool upsample, const Shape& x_shape,
                               const std::vector<const Tensor*>& inputs);

// One axis of `src` (shape `in`) resized into `dst`, and its adjoint (dx = taps^T dy).
void resize_axis(const float* src, float* dst, const Shape& in, int axis, int64_t out, const AxisTaps& t, float extrapolation);
void resize_axis_adjoint(const float* dy, float* dx, const Shape& in, int axis, int64_t out, const AxisTaps& t);

}  // namespace ember::runtime
