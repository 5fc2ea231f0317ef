// Backward rules of the indexed reads and writes. Reads (y[j] = data[offset_j]) give scatter-adds;
// writes give masks. Offsets come from the forward's own helpers (shape_common.h).
//   GatherElements / GatherND: d data[offset_j] += dy[j] (slices for GatherND, any batch_dims)
//   Compress: the kept rows of dy go back to their rows of X; the others get 0
//   TopK: dValues go back to the positions Indices name (the Indices output has no gradient)
//   ScatterElements / Scatter / ScatterND with reduction none: out = data, then
//     out[offset_j] = updates[j] in order, so d data = dy except at written places (0), and
//     d updates[j] = dy[offset_j] for the last write to each place, 0 for overwritten ones;
//   with reduction add: d data = dy, d updates[j] = dy[offset_j]. The mul/max/min reductions
//     are cuts (outside `supports`).
//   MaxUnpool: y[place(index_i)] = x_i (later writes win), so dx_i = dy[place(index_i)] for
//     the last write to each place, 0 for overwritten ones
#include <algorithm>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/single_op.h"

namespace ember::runtime::grad {
namespace {

// The forward's offset helpers take a RunContext for their messages only; `shape_of` is any
// tensor of data's shape (they read the shape alone).
template <class F>
auto with_run_context(const BackwardContext& ctx, F f) {
  const std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;
  HeapAllocator heap;
  const RunContext rc{ctx.node, inputs, outputs, heap};
  return f(rc);
}

GradNeeds needs_input1(const ir::Node&, IndexMask) { return {bit(1), 0}; }

// For each write j (in order), whether a later write goes to the same place.
std::vector<uint8_t> last_writes(const std::vector<int64_t>& places) {
  std::vector<uint8_t> last(places.size(), 1);
  std::vector<int64_t> order(places.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = int64_t(j);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return places[size_t(a)] < places[size_t(b)]; });
  for (size_t k = 0; k + 1 < order.size(); ++k)
    if (places[size_t(order[k])] == places[size_t(order[k + 1])]) last[size_t(order[k])] = 0;
  return last;
}

Status gather_elements_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  Tensor dx = ctx.zeros(ctx.input_shapes[0]);
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 0), dx.rank(), ctx.where()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, with_run_context(ctx, [&](const RunContext& rc) {
                           return element_offsets(rc, dx, ctx.input(1), axis);
                         }));
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (size_t j = 0; j < offsets.size(); ++j) out[offsets[j]] += dy[j];
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status gather_nd_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  Tensor dx = ctx.zeros(ctx.input_shapes[0]);
  EMBER_ASSIGN_OR_RETURN(SliceOffsets slices, with_run_context(ctx, [&](const RunContext& rc) {
                           return slice_offsets(rc, dx, ctx.input(1), ctx.node.attr_int("batch_dims", 0));
                         }));
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (size_t j = 0; j < slices.offsets.size(); ++j)
    for (int64_t i = 0; i < slices.slice; ++i) out[slices.offsets[j] + i] += dy[int64_t(j) * slices.slice + i];
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status compress_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::kBool) return invalid_input(ctx.where() + ": condition must be bool");
  const Shape& xs = ctx.input_shapes[0];
  const ir::Attribute* axis_attr = ctx.node.find_attr("axis");
  const Shape shape = axis_attr ? xs : Shape{shape_numel(xs)};
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_attr ? axis_attr->i : 0, static_cast<int>(shape.size()), ctx.where()));
  const int64_t outer = product(shape, 0, size_t(axis)), dim = shape[size_t(axis)];
  const int64_t inner = product(shape, size_t(axis) + 1, shape.size());
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < std::min(cond.numel(), dim); ++i)
    if (cond.data<uint8_t>()[i]) keep.push_back(i);
  Tensor dx = ctx.zeros(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < keep.size(); ++k)
      std::copy_n(dy + (o * int64_t(keep.size()) + int64_t(k)) * inner, inner, out + (o * dim + keep[k]) * inner);
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

GradNeeds topk_needs(const ir::Node&, IndexMask) { return {0, bit(1)}; }

Status topk_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), static_cast<int>(xs.size()), ctx.where()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> indices, ctx.output(1).to_int64s());
  const int64_t dim = xs[size_t(axis)], k = ctx.output_shapes[0][size_t(axis)];
  const int64_t outer = product(xs, 0, size_t(axis)), inner = product(xs, size_t(axis) + 1, xs.size());
  Tensor dx = ctx.zeros(xs);
  float* out = dx.mutable_data<float>();
  const float* dv = ctx.output_grad(0).data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = (o * k + j) * inner + i;
        out[(o * dim + indices[size_t(at)]) * inner + i] += dv[at];
      }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

bool scatter_supported(const ir::Node& node) {
  const std::string reduction = node.attr_string("reduction", "none");
  return reduction == "none" || reduction == "add";
}

// The offsets the forward wrote at, and the elements per write.
Result<SliceOffsets> scatter_targets(const BackwardContext& ctx, const Tensor& shape_of) {
  return with_run_context(ctx, [&](const RunContext& rc) -> Result<SliceOffsets> {
    if (ctx.node.op_type == "ScatterND") return slice_offsets(rc, shape_of, ctx.input(1), 0);
    EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 0), shape_of.rank(), ctx.where()));
    SliceOffsets s;
    EMBER_ASSIGN_OR_RETURN(s.offsets, element_offsets(rc, shape_of, ctx.input(1), axis));
    return s;
  });
}

Status scatter_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const bool add = ctx.node.attr_string("reduction", "none") == "add";
  const Tensor& dy = ctx.output_grad(0);
  EMBER_ASSIGN_OR_RETURN(SliceOffsets t, scatter_targets(ctx, dy));
  const float* g = dy.data<float>();
  // last[j]: whether write j is the last one to its place (only it reaches the output).
  const std::vector<uint8_t> last = add ? std::vector<uint8_t>(t.offsets.size(), 1) : last_writes(t.offsets);
  if (ctx.wants(0)) {
    Tensor dd = ctx.allocate(dy.shape());
    float* out = dd.mutable_data<float>();
    std::copy_n(g, dy.numel(), out);
    if (!add)
      for (int64_t offset : t.offsets) std::fill_n(out + offset, t.slice, 0.0f);
    ctx.input_grads[0] = std::move(dd);
  }
  if (ctx.wants(2)) {
    Tensor du = ctx.allocate(ctx.input_shapes[2]);
    float* out = du.mutable_data<float>();
    for (size_t j = 0; j < t.offsets.size(); ++j)
      for (int64_t i = 0; i < t.slice; ++i) out[int64_t(j) * t.slice + i] = last[j] ? g[t.offsets[j] + i] : 0.0f;
    ctx.input_grads[2] = std::move(du);
  }
  return Status::Ok();
}

GradNeeds needs_inputs_1_2(const ir::Node&, IndexMask) { return {bit(1) | bit(2), 0}; }

Status max_unpool_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const Shape& out = ctx.output_shapes[0];
  const size_t spatial = xs.size() - 2;
  std::vector<int64_t> kernel = ctx.node.attr_ints("kernel_shape"), strides = ctx.node.attr_ints("strides"),
                       pads = ctx.node.attr_ints("pads");
  if (xs.size() < 3 || kernel.size() != spatial || out.size() != xs.size())
    return invalid_input(ctx.where() + ": X [N, C, spatial...] and kernel_shape are required");
  strides.resize(spatial, 1);
  pads.resize(2 * spatial, 0);
  Shape inferred = xs;  // the shape the indices address, placed at the output's origin
  for (size_t d = 0; d < spatial; ++d) inferred[d + 2] = (xs[d + 2] - 1) * strides[d] - pads[d] - pads[d + spatial] + kernel[d];
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> places, read_int_input(ctx, 1));
  for (int64_t& flat : places) {
    int64_t result = 0, scale = 1;
    for (size_t d = out.size(); d-- > 0;) {
      result += (flat % inferred[d]) * scale;
      flat /= inferred[d];
      scale *= out[d];
    }
    flat = result;
  }
  const std::vector<uint8_t> last = last_writes(places);
  Tensor dx = ctx.allocate(xs);
  float* px = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (size_t i = 0; i < places.size(); ++i) px[i] = last[i] ? dy[places[i]] : 0.0f;
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_gather_scatter_grads(GradRegistry& r) {
  r.add("GatherElements", bit(0), needs_input1, gather_elements_backward);
  r.add("GatherND", bit(0), needs_input1, gather_nd_backward);
  r.add("Compress", bit(0), needs_input1, compress_backward);
  r.add("TopK", bit(0), topk_needs, topk_backward);
  for (const char* op : {"ScatterElements", "Scatter", "ScatterND"})
    r.add(op, bit(0) | bit(2), needs_input1, scatter_backward, "", scatter_supported);
  r.add("MaxUnpool", bit(0), needs_inputs_1_2, max_unpool_backward);
}

}  // namespace ember::runtime::grad
