// Detection-head ops, by the ONNX reference:
//   NonMaxSuppression: per batch and class, boxes scoring above score_threshold in descending
//     score order (ties: lower index first) are kept unless their IoU with a kept box exceeds
//     iou_threshold, up to max_output_boxes_per_class; boxes are corners [y1, x1, y2, x2] in
//     any diagonal order (center_point_box 0) or [x_center, y_center, width, height] (1).
//     Output: [selected, 3] of (batch, class, box).
//   MaxUnpool: scatters X into zeros at the flat output indices MaxPool returned; the output
//     shape is output_shape when given, else (in - 1) * stride - pads + kernel per spatial dim.
#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

using Box = std::array<float, 4>;  // y1, x1, y2, x2 with y1 <= y2, x1 <= x2

Box corners(const float* b, bool center) {
  if (center) return {b[1] - b[3] / 2, b[0] - b[2] / 2, b[1] + b[3] / 2, b[0] + b[2] / 2};
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

float iou(const Box& a, const Box& b) {
  const float ih = std::min(a[2], b[2]) - std::max(a[0], b[0]), iw = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (ih <= 0 || iw <= 0) return 0;
  const float inter = ih * iw;
  const float uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni <= 0 ? 0 : inter / uni;
}

Status run_nms(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 5));
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  if (boxes.dtype() != DType::kF32 || scores.dtype() != DType::kF32 || boxes.rank() != 3 || boxes.dim(2) != 4 ||
      scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1))
    return invalid_input(ctx.where() + ": boxes must be float [batches, boxes, 4] and scores [batches, classes, boxes]");
  int64_t max_out = 0;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> m, read_indices(ctx, 2));
    max_out = m.at(0);
  }
  const float iou_threshold = ctx.has_input(3) && ctx.input(3).numel() ? ctx.input(3).data<float>()[0] : 0.0f;
  const bool has_score_threshold = ctx.has_input(4) && ctx.input(4).numel();
  const float score_threshold = has_score_threshold ? ctx.input(4).data<float>()[0] : 0.0f;
  const bool center = ctx.node.attr_int("center_point_box", 0) != 0;
  const int64_t batches = boxes.dim(0), n = boxes.dim(1), classes = scores.dim(1);
  std::vector<int64_t> selected;
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t c = 0; c < classes; ++c) {
      const float* s = scores.data<float>() + (b * classes + c) * n;
      std::vector<int64_t> order;
      for (int64_t i = 0; i < n; ++i)
        if (!has_score_threshold || s[i] > score_threshold) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
      std::vector<Box> kept;
      for (int64_t i : order) {
        if (int64_t(kept.size()) >= max_out) break;
        const Box box = corners(boxes.data<float>() + (b * n + i) * 4, center);
        if (std::any_of(kept.begin(), kept.end(), [&](const Box& k) { return iou(k, box) > iou_threshold; })) continue;
        kept.push_back(box);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  Tensor& y = ctx.allocate_output(0, DType::kI64, {int64_t(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), y.mutable_data<int64_t>());
  return Status::Ok();
}

Status run_max_unpool(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 3));
  const Tensor& x = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const std::vector<int64_t> kernel = ctx.node.attr_ints("kernel_shape");
  const int spatial = x.rank() - 2;
  if (spatial < 1 || int(kernel.size()) != spatial || indices.shape() != x.shape() || indices.dtype() != DType::kI64)
    return invalid_input(ctx.where() + ": X [N, C, spatial...], int64 indices of the same shape and kernel_shape are required");
  std::vector<int64_t> strides = ctx.node.attr_ints("strides"), pads = ctx.node.attr_ints("pads");
  strides.resize(size_t(spatial), 1);
  pads.resize(size_t(2 * spatial), 0);
  // Indices address the inferred shape; a given output_shape places that shape at its origin.
  Shape inferred = x.shape();
  for (int d = 0; d < spatial; ++d)
    inferred[size_t(d + 2)] = (x.dim(d + 2) - 1) * strides[size_t(d)] - pads[size_t(d)] - pads[size_t(d + spatial)] + kernel[size_t(d)];
  Shape out = inferred;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> s, read_indices(ctx, 2));
    if (s.size() != out.size()) return invalid_input(ctx.where() + ": output_shape must have the input's rank");
    out.assign(s.begin(), s.end());
    for (size_t d = 0; d < out.size(); ++d)
      if (out[d] < inferred[d]) return invalid_input(ctx.where() + ": output_shape is smaller than the unpooled shape");
  }
  auto place = [&](int64_t flat) {  // flat index in `inferred` -> flat index in `out`
    int64_t result = 0, scale = 1;
    for (size_t d = out.size(); d-- > 0;) {
      result += (flat % inferred[d]) * scale;
      flat /= inferred[d];
      scale *= out[d];
    }
    return result;
  };
  const int bits = traits(x.dtype()).bits;
  if (bits == 0 || bits % 8) return invalid_input(ctx.where() + ": element type not supported");
  const size_t es = size_t(bits / 8);
  Tensor& y = ctx.allocate_output(0, x.dtype(), out);
  std::memset(y.raw_mutable(), 0, y.nbytes());
  const int64_t total = shape_numel(inferred);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t index = indices.data<int64_t>()[i];
    if (index < 0 || index >= total) return invalid_input(ctx.where() + ": index " + std::to_string(index) + " is outside the output");
    const int64_t at = place(index);
    std::memcpy(static_cast<uint8_t*>(y.raw_mutable()) + size_t(at) * es, static_cast<const uint8_t*>(x.raw()) + size_t(i) * es, es);
  }
  return Status::Ok();
}

}  // namespace

void register_detection_kernels(KernelRegistry& registry) {
  registry.add_function("NonMaxSuppression", "", 10, run_nms);
  registry.add_function("MaxUnpool", "", 9, run_max_unpool);
}

}  // namespace ember::runtime
