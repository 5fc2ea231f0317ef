// Backward rules of the ops that build or fold sampling positions, both linear in the input
// they differentiate:
//   AffineGrid: grid[b, p, k] = sum_j theta[b, k, j] base_p[j], base_p = (x, y, (z), 1) the
//     normalised coordinates of point p (as the forward), so dtheta[b, k, j] = sum_p dgrid[b, p, k] base_p[j]
//   Col2Im: y[image position] += x[column entry] for every (kernel tap, block) inside the
//     image; the adjoint is im2col: dx[column entry] = dy[its image position] (0 outside)
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/col2im_plan.h"

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
  if (xs.size() != 3) return invalid_input(ctx.where() + ": bad column, image or block shapes");
  EMBER_ASSIGN_OR_RETURN(const Col2ImPlan plan, plan_col2im(ctx.node, std::move(image), std::move(block), xs[1], xs[2], ctx.where()));
  Tensor dx = ctx.zeros(xs);  // columns whose pixel lies outside the image get no gradient
  for (int64_t bc = 0; bc < xs[0] * (xs[1] / plan.kernel); ++bc) {
    float* out = dx.mutable_data<float>() + bc * plan.kernel * plan.blocks;
    const float* dy = ctx.output_grad(0).data<float>() + bc * plan.plane;
    plan.for_each_tap([&](int64_t column, int64_t pixel) { out[column] = dy[pixel]; });
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
