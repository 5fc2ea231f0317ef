// Backward rule of DeformConv (2-D, as deform_conv.cc): with the sampled columns
// col[ch, k, p] = m s, s = bilinear(X plane, y, x) at the tap's offset position, m the mask,
// and Y_g = W_g col_g + B (per group):
//   dW_g += dY_g col_g^T,  dB = sum of dY,  dcol_g = W_g^T dY_g
//   dmask += dcol s,  and with ds = dcol m:
//   dX[corner] += ds (corner's bilinear weight)   (corners inside the image)
//   doffset_y += ds ds/dy = ds (-(1-lx) a - lx b + (1-lx) c + lx d)
//   doffset_x += ds ds/dx = ds (-(1-ly) a + (1-ly) b - ly c + ly d)
// where a, b, c, d are the corners (y0,x0), (y0,x0+1), (y0+1,x0), (y0+1,x0+1) (0 outside),
// summed over the channels that share an offset group.
#include <cmath>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

GradNeeds deform_conv_needs(const ir::Node&, IndexMask) { return {kAllIndices, 0}; }

struct Geometry {
  int64_t n, c, h, w, oc, kh, kw, K, oh, ow, group, offset_group;
  std::vector<int64_t> strides, dil, pads;
};

Result<Geometry> read_geometry(const BackwardContext& ctx) {
  const Shape &xs = ctx.input_shapes[0], &ws = ctx.input_shapes[1], &os = ctx.input_shapes[2];
  if (xs.size() != 4 || ws.size() != 4 || os.size() != 4) return invalid_input(ctx.where() + ": X, W and offset must be rank 4");
  Geometry g{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], ws[2] * ws[3], os[2], os[3],
             ctx.node.attr_int("group", 1), ctx.node.attr_int("offset_group", 1), ctx.node.attr_ints("strides"),
             ctx.node.attr_ints("dilations"), ctx.node.attr_ints("pads")};
  g.strides.resize(2, 1);
  g.dil.resize(2, 1);
  g.pads.resize(4, 0);
  if (g.group < 1 || g.offset_group < 1 || g.c % g.group || g.oc % g.group || g.c % g.offset_group || ws[1] * g.group != g.c)
    return invalid_input(ctx.where() + ": X, W, group and offset_group do not agree");
  return g;
}

Status deform_conv_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  for (size_t i = 0; i < 5; ++i) {
    if (ctx.has_input(i)) {
      EMBER_TRY(require_f32(ctx, ctx.input(i), "input " + std::to_string(i)));
    }
  }
  EMBER_ASSIGN_OR_RETURN(const Geometry g, read_geometry(ctx));
  const float* x = ctx.input(0).data<float>();
  const float* w = ctx.input(1).data<float>();
  const float* offset = ctx.input(2).data<float>();
  const float* mask = ctx.has_input(4) ? ctx.input(4).data<float>() : nullptr;
  const float* dy = ctx.output_grad(0).data<float>();
  Tensor dx = ctx.zeros(ctx.input_shapes[0]), dw = ctx.zeros(ctx.input_shapes[1]), doff = ctx.zeros(ctx.input_shapes[2]);
  Tensor dmask = ctx.has_input(4) ? ctx.zeros(ctx.input_shapes[4]) : Tensor();
  std::vector<double> db(size_t(g.oc), 0.0);
  const int64_t cg = g.c / g.group, mg = g.oc / g.group, positions = g.oh * g.ow, rows = cg * g.K;
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t gr = 0; gr < g.group; ++gr)
      for (int64_t ch = 0; ch < cg; ++ch) {
        const int64_t channel = gr * cg + ch, og = channel / (g.c / g.offset_group);
        const float* plane = x + (b * g.c + channel) * g.h * g.w;
        float* dplane = dx.mutable_data<float>() + (b * g.c + channel) * g.h * g.w;
        for (int64_t k = 0; k < g.K; ++k)
          for (int64_t p = 0; p < positions; ++p) {
            const int64_t row = ch * g.K + k, off_at = ((b * g.offset_group + og) * 2 * g.K + 2 * k) * positions + p;
            const int64_t mask_at = ((b * g.offset_group + og) * g.K + k) * positions + p;
            const float yy = float((p / g.ow) * g.strides[0] - g.pads[0] + (k / g.kw) * g.dil[0]) + offset[off_at];
            const float xx = float((p % g.ow) * g.strides[1] - g.pads[1] + (k % g.kw) * g.dil[1]) + offset[off_at + positions];
            const float m = mask ? mask[mask_at] : 1.0f;
            // The sample s and its corners (0 outside the image), as the forward's bilinear_zero.
            const bool reads = !(yy <= -1 || yy >= float(g.h) || xx <= -1 || xx >= float(g.w));
            const int64_t y0 = int64_t(std::floor(yy)), x0 = int64_t(std::floor(xx));
            const float ly = yy - float(y0), lx = xx - float(x0);
            auto inside = [&](int64_t r, int64_t q) { return r >= 0 && r < g.h && q >= 0 && q < g.w; };
            auto at = [&](int64_t r, int64_t q) { return reads && inside(r, q) ? plane[r * g.w + q] : 0.0f; };
            const float a = at(y0, x0), bb = at(y0, x0 + 1), cc = at(y0 + 1, x0), d = at(y0 + 1, x0 + 1);
            const float s = (1 - ly) * (1 - lx) * a + (1 - ly) * lx * bb + ly * (1 - lx) * cc + ly * lx * d;
            double dcol = 0;
            for (int64_t o = 0; o < mg; ++o) {
              const int64_t out = gr * mg + o;
              const float gy = dy[(b * g.oc + out) * positions + p];
              dcol += double(w[out * rows + row]) * gy;
              dw.mutable_data<float>()[out * rows + row] += gy * m * s;
            }
            if (dmask.defined()) dmask.mutable_data<float>()[mask_at] += static_cast<float>(dcol * s);
            if (!reads) continue;
            const float ds = static_cast<float>(dcol) * m;
            const int64_t cy[4] = {y0, y0, y0 + 1, y0 + 1}, cx[4] = {x0, x0 + 1, x0, x0 + 1};
            const float cw[4] = {(1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx};
            for (int q = 0; q < 4; ++q)
              if (inside(cy[q], cx[q])) dplane[cy[q] * g.w + cx[q]] += ds * cw[q];
            doff.mutable_data<float>()[off_at] += ds * (-(1 - lx) * a - lx * bb + (1 - lx) * cc + lx * d);
            doff.mutable_data<float>()[off_at + positions] += ds * (-(1 - ly) * a + (1 - ly) * bb - ly * cc + ly * d);
          }
      }
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t o = 0; o < g.oc; ++o)
      for (int64_t p = 0; p < positions; ++p) db[size_t(o)] += dy[(b * g.oc + o) * positions + p];
  if (ctx.wants(0)) ctx.input_grads[0] = std::move(dx);
  if (ctx.wants(1)) ctx.input_grads[1] = std::move(dw);
  if (ctx.wants(2)) ctx.input_grads[2] = std::move(doff);
  if (ctx.wants(3)) ctx.input_grads[3] = Tensor::from_vector<float>(ctx.input_shapes[3], std::vector<float>(db.begin(), db.end()));
  if (ctx.wants(4)) ctx.input_grads[4] = std::move(dmask);
  return Status::Ok();
}

}  // namespace

void register_deform_conv_grads(GradRegistry& r) {
  r.add("DeformConv", bit(0) | bit(1) | bit(2) | bit(3) | bit(4), deform_conv_needs, deform_conv_backward);
}

}  // namespace ember::runtime::grad
