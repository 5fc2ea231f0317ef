// RoiAlign (10, 16), by the ONNX reference: each region [x1, y1, x2, y2] (scaled by
// spatial_scale, shifted by -0.5 under half_pixel) is split into output_height x
// output_width bins; each bin samples a grid of sampling_ratio (or ceil(bin size)) points
// per axis, bilinearly interpolated (points beyond one pixel outside the map count as 0), and
// takes their average (avg) or the largest weighted corner value (max, as onnxruntime does).
// Opset 10's only transform is output_half_pixel (no shift, regions at least 1 x 1).
#include <algorithm>
#include <cmath>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/kernels/roi_align_sample.h"

namespace ember::runtime {
namespace {

class RoiAlignKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    opset_ = ctx.opset;
    return Status::Ok();
  }
  Status run(RunContext& ctx) override;

 private:
  int64_t opset_ = 16;
};

Status RoiAlignKernel::run(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 3, 3));
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  if (x.dtype() != DType::kF32 || rois.dtype() != DType::kF32 || x.rank() != 4 || rois.rank() != 2 || rois.dim(1) != 4)
    return invalid_input(ctx.where() + ": X must be float [N, C, H, W] and rois float [R, 4]");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> batch, read_indices(ctx, 2));
  const int64_t num = rois.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (int64_t(batch.size()) != num) return invalid_input(ctx.where() + ": batch_indices must have one value per region");
  const int64_t ph = ctx.node.attr_int("output_height", 1), pw = ctx.node.attr_int("output_width", 1);
  const int64_t ratio = ctx.node.attr_int("sampling_ratio", 0);
  const float scale = ctx.node.attr_float("spatial_scale", 1.0f);
  const bool max_mode = ctx.node.attr_string("mode", "avg") == "max";
  const bool half_pixel = opset_ >= 16 && ctx.node.attr_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  if (ph <= 0 || pw <= 0) return invalid_input(ctx.where() + ": output_height and output_width must be positive");
  Tensor& y = ctx.allocate_output(0, DType::kF32, {num, c, ph, pw});
  const float offset = half_pixel ? 0.5f : 0.0f;
  for (int64_t r = 0; r < num; ++r) {
    const int64_t b = batch[size_t(r)];
    if (b < 0 || b >= x.dim(0)) return invalid_input(ctx.where() + ": batch index " + std::to_string(b) + " is out of range");
    const float* roi = rois.data<float>() + r * 4;
    const RoiBins bins(roi, scale, offset, half_pixel, ph, pw, ratio);
    const int64_t gh = bins.gh, gw = bins.gw;
    const float count = bins.count;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* map = x.data<float>() + (b * c + ch) * h * w;
      for (int64_t i = 0; i < ph; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          float acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < gh; ++iy)
            for (int64_t ix = 0; ix < gw; ++ix) {
              const float yy = bins.y(i, iy), xx = bins.x(j, ix);
              float v[4] = {0, 0, 0, 0}, wt[4];
              int64_t at[4];
              if (roi_sample_corners(yy, xx, h, w, at, wt))
                for (int q = 0; q < 4; ++q) v[q] = wt[q] * map[at[q]];
              if (max_mode) {
                const float m = std::max(std::max(v[0], v[1]), std::max(v[2], v[3]));
                acc = first ? m : std::max(acc, m);
                first = false;
              } else {
                acc += v[0] + v[1] + v[2] + v[3];
              }
            }
          y.mutable_data<float>()[((r * c + ch) * ph + i) * pw + j] = max_mode ? acc : acc / count;
        }
    }
  }
  return Status::Ok();
}

}  // namespace

void register_roi_align_kernels(KernelRegistry& registry) {
  registry.add("RoiAlign", "", 10, [] { return std::make_unique<RoiAlignKernel>(); });
}

}  // namespace ember::runtime
