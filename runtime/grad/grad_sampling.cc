// Backward rules of the ops that build or fold sampling positions, both linear in the input
// they differentiate:
//   AffineGrid: grid[b, p, k] = sum_j theta[b, k, j] base_p[j], base_p = (x, y, (z), 1) the
//     normalised coordinates of point p (as the forward), so dtheta[b, k, j] = sum_p dgrid[b, p, k] base_p[j]
//   Col2Im: y[image position] += x[column entry] for every (kernel tap, block) inside the
//     image; the adjoint is im2col: dx[column entry] = dy[its image position] (0 outside)
#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

GradNeeds needs_size(const ir::Node&, IndexMask) { return {bit(1), 0}; }

Status affine_grid_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> size, read_int_input(ctx, 1));
  const bool align = ctx.node.attr_int("align_corners", 0) != 0;
  const int64_t r = int64_t(size.size()) - 2;
  const Shape& ts = ctx.input_shapes[0];
  if ((r != 2 && r != 3) || ts.size() != 3 || ts[1] != r || ts[2] != r + 1) return invalid_input(ctx.where() + ": bad theta or size");
  int64_t points = 1;
  for (int64_t d = 0; d < r; ++d) points *= size[size_t(2 + d)];
  auto coord = [&](int64_t i, int64_t len) {
    if (align) return len > 1 ? -1.0 + 2.0 * double(i) / double(len - 1) : 0.0;
    return (2.0 * double(i) + 1.0) / double(len) - 1.0;
  };
  const float* dg = ctx.output_grad(0).data<float>();
  std::vector<double> dtheta(size_t(size[0] * r * (r + 1)), 0.0), base(size_t(r + 1));
  for (int64_t b = 0; b < size[0]; ++b)
    for (int64_t p = 0; p < points; ++p) {
      base[size_t(r)] = 1.0;
      for (int64_t d = r - 1, rest = p; d >= 0; --d) {
        const int64_t len = size[size_t(2 + d)];
        base[size_t(r - 1 - d)] = coord(rest % len, len);
        rest /= len;
      }
      for (int64_t k = 0; k < r; ++k)
        for (int64_t j = 0; j <= r; ++j) dtheta[size_t((b * r + k) * (r + 1) + j)] += dg[(b * points + p) * r + k] * base[size_t(j)];
    }
  ctx.input_grads[0] = Tensor::from_vector<float>(ts, std::vector<float>(dtheta.begin(), dtheta.end()));
  return Status::Ok();
}

GradNeeds needs_shapes(const ir::Node&, IndexMask) { return {bit(1) | bit(2), 0}; }

Status col2im_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> image, read_int_input(ctx, 1));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> block, read_int_input(ctx, 2));
  const Shape& xs = ctx.input_shapes[0];
  const size_t r = image.size();
  if (xs.size() != 3 || block.size() != r || r == 0) return invalid_input(ctx.where() + ": bad column, image or block shapes");
  std::vector<int64_t> strides = ctx.node.attr_ints("strides"), dil = ctx.node.attr_ints("dilations"), pads = ctx.node.attr_ints("pads");
  strides.resize(r, 1);
  dil.resize(r, 1);
  pads.resize(2 * r, 0);
  int64_t kernel = 1, plane = 1, blocks = 1;
  std::vector<int64_t> out_dims(r), kpos(r), bpos(r);
  for (size_t d = 0; d < r; ++d) {
    kernel *= block[d];
    plane *= image[d];
    out_dims[d] = (image[d] + pads[d] + pads[d + r] - dil[d] * (block[d] - 1) - 1) / strides[d] + 1;
    blocks *= out_dims[d];
  }
  if (kernel <= 0 || xs[1] % kernel || xs[2] != blocks) return invalid_input(ctx.where() + ": the column count does not match");
  const int64_t c = xs[1] / kernel;
  Tensor dx = ctx.allocate(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t b = 0; b < xs[0]; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < kernel; ++k)
        for (int64_t l = 0; l < blocks; ++l) {
          int64_t kr = k, lr = l, offset = 0;
          bool inside = true;
          for (size_t d = r; d-- > 0;) {
            kpos[d] = kr % block[d], kr /= block[d];
            bpos[d] = lr % out_dims[d], lr /= out_dims[d];
          }
          for (size_t d = 0; d < r; ++d) {
            const int64_t at = bpos[d] * strides[d] - pads[d] + kpos[d] * dil[d];
            inside = inside && at >= 0 && at < image[d];
            offset = offset * image[d] + at;
          }
          out[((b * c + ch) * kernel + k) * blocks + l] = inside ? dy[(b * c + ch) * plane + offset] : 0.0f;
        }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_sampling_grads(GradRegistry& r) {
  r.add("AffineGrid", bit(0), needs_size, affine_grid_backward);
  r.add("Col2Im", bit(0), needs_shapes, col2im_backward);
}

}  // namespace ember::runtime::grad
