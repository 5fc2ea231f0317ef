// DeformConv (opset 19), 2-D, as torchvision and onnxruntime compute it: each kernel tap k of
// output position (oh, ow) reads X at
//   (oh * stride - pad + kh * dilation + dy, ow * stride - pad + kw * dilation + dx)
// where (dy, dx) = offset[n, g * 2K + 2k + {0, 1}, oh, ow] for the tap's offset group g,
// bilinearly interpolated with zeros outside the image and multiplied by mask[n, g * K + k, oh, ow]
// (1 without a mask). The sampled columns then meet the weights as in Conv (with groups), plus B.
#include <cmath>

#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

float bilinear_zero(const float* plane, int64_t h, int64_t w, float y, float x) {
  if (y <= -1 || y >= float(h) || x <= -1 || x >= float(w)) return 0;
  const int64_t y0 = int64_t(std::floor(y)), x0 = int64_t(std::floor(x));
  const float ly = y - float(y0), lx = x - float(x0);
  auto at = [&](int64_t yy, int64_t xx) { return yy >= 0 && yy < h && xx >= 0 && xx < w ? plane[yy * w + xx] : 0.0f; };
  return (1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1) + ly * (1 - lx) * at(y0 + 1, x0) + ly * lx * at(y0 + 1, x0 + 1);
}

Status run_deform_conv(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 3, 5));
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& offset = ctx.input(2);
  if (x.dtype() != DType::kF32 || w.dtype() != DType::kF32 || offset.dtype() != DType::kF32 || x.rank() != 4 || w.rank() != 4 || offset.rank() != 4)
    return invalid_input(ctx.where() + ": X, W and offset must be float32 of rank 4 (2-D)");
  const int64_t group = ctx.node.attr_int("group", 1), offset_group = ctx.node.attr_int("offset_group", 1);
  std::vector<int64_t> strides = ctx.node.attr_ints("strides"), dil = ctx.node.attr_ints("dilations"), pads = ctx.node.attr_ints("pads");
  strides.resize(2, 1);
  dil.resize(2, 1);
  pads.resize(4, 0);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), oc = w.dim(0), kh = w.dim(2), kw = w.dim(3), K = kh * kw;
  const int64_t oh = offset.dim(2), ow = offset.dim(3);
  if (group < 1 || offset_group < 1 || c % group || oc % group || w.dim(1) * group != c || c % offset_group ||
      offset.dim(0) != n || offset.dim(1) != offset_group * 2 * K)
    return invalid_input(ctx.where() + ": X, W, offset, group and offset_group do not agree");
  if (oh != (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / strides[0] + 1 || ow != (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / strides[1] + 1)
    return invalid_input(ctx.where() + ": offset's spatial size does not match the convolution's output");
  const float* mask = ctx.has_input(4) ? ctx.input(4).data<float>() : nullptr;
  if (mask && ctx.input(4).numel() != n * offset_group * K * oh * ow) return invalid_input(ctx.where() + ": mask has the wrong size");
  const float* bias = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
  if (bias && ctx.input(3).numel() != oc) return invalid_input(ctx.where() + ": B must have one value per output channel");
  Tensor& y = ctx.allocate_output(0, DType::kF32, {n, oc, oh, ow});
  const int64_t cg = c / group, mg = oc / group, positions = oh * ow, rows = cg * K;
  std::vector<float> col(static_cast<size_t>(rows * positions));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < group; ++g) {
      for (int64_t ch = 0; ch < cg; ++ch) {
        const int64_t channel = g * cg + ch, og = channel / (c / offset_group);
        const float* plane = x.data<float>() + (b * c + channel) * h * wd;
        for (int64_t k = 0; k < K; ++k)
          for (int64_t p = 0; p < positions; ++p) {
            const int64_t py = p / ow, px = p % ow;
            const float* off = offset.data<float>() + ((b * offset_group + og) * 2 * K + 2 * k) * positions + p;
            const float yy = float(py * strides[0] - pads[0] + (k / kw) * dil[0]) + off[0];
            const float xx = float(px * strides[1] - pads[1] + (k % kw) * dil[1]) + off[positions];
            const float m = mask ? mask[((b * offset_group + og) * K + k) * positions + p] : 1.0f;
            col[size_t((ch * K + k) * positions + p)] = m * bilinear_zero(plane, h, wd, yy, xx);
          }
      }
      float* out = y.mutable_data<float>() + (b * oc + g * mg) * positions;
      sgemm(false, false, mg, positions, rows, 1.0f, w.data<float>() + g * mg * rows, rows, col.data(), positions, 0.0f, out, positions);
      for (int64_t m = 0; bias && m < mg; ++m)
        for (int64_t p = 0; p < positions; ++p) out[m * positions + p] += bias[g * mg + m];
    }
  return Status::Ok();
}

}  // namespace

void register_deform_conv_kernels(KernelRegistry& registry) { registry.add_function("DeformConv", "", 19, run_deform_conv); }

}  // namespace ember::runtime
