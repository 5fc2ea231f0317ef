// Backward rule of RoiAlign for the feature map X (the regions and their batch indices are
// boxes and integers: no gradient). Each output bin reads sample points, each a bilinear
// combination of four pixels with weights (hy hx, hy lx, ly hx, ly lx), placed as in the
// forward (roi_align.cc):
//   avg: y = sum over samples and corners of weight X[corner] / count, so each corner gets
//        dy weight / count
//   max: y = the largest weighted corner value over the samples, so only that corner gets
//        dy weight (the first one, on ties)
#include <algorithm>
#include <cmath>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/roi_align_sample.h"

namespace ember::runtime::grad {
namespace {

GradNeeds roi_align_needs(const ir::Node& node, IndexMask) {
  const bool max_mode = node.attr_string("mode", "avg") == "max";
  return {bit(1) | bit(2) | (max_mode ? bit(0) : IndexMask{0}), 0};
}

Status roi_align_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const Tensor& rois = ctx.input(1);
  EMBER_TRY(require_f32(ctx, rois, "rois"));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> batch, read_int_input(ctx, 2));
  if (xs.size() != 4 || rois.rank() != 2 || rois.dim(1) != 4 || int64_t(batch.size()) != rois.dim(0))
    return invalid_input(ctx.where() + ": X must be [N, C, H, W], rois [R, 4] with one batch index each");
  const int64_t c = xs[1], h = xs[2], w = xs[3];
  const int64_t ph = ctx.node.attr_int("output_height", 1), pw = ctx.node.attr_int("output_width", 1);
  const int64_t ratio = ctx.node.attr_int("sampling_ratio", 0);
  const float scale = ctx.node.attr_float("spatial_scale", 1.0f);
  const bool max_mode = ctx.node.attr_string("mode", "avg") == "max";
  const bool half_pixel = ctx.opset >= 16 && ctx.node.attr_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  const float offset = half_pixel ? 0.5f : 0.0f;
  const float* x = max_mode ? ctx.input(0).data<float>() : nullptr;
  const float* dy = ctx.output_grad(0).data<float>();
  Tensor dx = ctx.zeros(xs);
  for (int64_t r = 0; r < rois.dim(0); ++r) {
    const int64_t b = batch[size_t(r)];
    if (b < 0 || b >= xs[0]) return invalid_input(ctx.where() + ": batch index out of range");
    const float* roi = rois.data<float>() + r * 4;
    const RoiBins bins(roi, scale, offset, half_pixel, ph, pw, ratio);
    const int64_t gh = bins.gh, gw = bins.gw;
    const float count = bins.count;
    for (int64_t ch = 0; ch < c; ++ch) {
      float* grad = dx.mutable_data<float>() + (b * c + ch) * h * w;
      const float* map = x ? x + (b * c + ch) * h * w : nullptr;
      for (int64_t i = 0; i < ph; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          const float g = dy[((r * c + ch) * ph + i) * pw + j];
          int64_t best_at = -1;  // -1: the maximum is an outside sample's 0
          float best = 0, best_weight = 0;
          bool first = true;
          for (int64_t iy = 0; iy < gh; ++iy)
            for (int64_t ix = 0; ix < gw; ++ix) {
              const float yy = bins.y(i, iy), xx = bins.x(j, ix);
              int64_t at[4] = {0, 0, 0, 0};
              float wt[4] = {0, 0, 0, 0};
              const bool reads = roi_sample_corners(yy, xx, h, w, at, wt);
              for (int k = 0; k < 4; ++k) {
                if (!max_mode) {
                  if (reads) grad[at[k]] += g * wt[k] / count;
                  continue;
                }
                const float v = reads ? wt[k] * map[at[k]] : 0.0f;  // an outside sample's corners are 0
                if (!first && v <= best) continue;  // the first maximum wins, as in the forward
                best = v, best_at = reads ? at[k] : -1, best_weight = wt[k], first = false;
              }
            }
          if (max_mode && best_at >= 0) grad[best_at] += g * best_weight;
        }
    }
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_roi_align_grads(GradRegistry& r) { r.add("RoiAlign", bit(0), roi_align_needs, roi_align_backward); }

}  // namespace ember::runtime::grad
