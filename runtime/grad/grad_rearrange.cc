// Backward rules of the ops that move, repeat or mask elements (each is linear in X, so the
// gradient is the adjoint movement of dy):
//   Pad: every output element reads X at a source coordinate per axis (pad_source_coordinate,
//     as the forward) or the constant: dX[source] += dy, dvalue += sum of dy over the constant
//   Tile: dX = dy viewed as [r0, n0, r1, n1, ...] summed over the repeat axes r_k
//   DepthToSpace / SpaceToDepth: a rank-6 transpose of a reshape; dy moves back by it
//   ReverseSequence: the same reversal applied to dy (it is its own inverse)
//   Trilu: dy with the same triangle kept
//   CumSum: dX = the cumulative sum of dy in the other direction (same exclusive flag)
//   CenterCropPad: the centred block both share goes back from dy to X; the rest of X gets 0
#include <algorithm>
#include <array>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"

namespace ember::runtime::grad {
namespace {

GradNeeds needs_int_inputs(const ir::Node&, IndexMask) { return {bit(1) | bit(3), 0}; }

// 2 * rank pads (all begins, then all ends), from the attribute (opset < 11) or the inputs.
Result<std::vector<int64_t>> pad_amounts(const BackwardContext& ctx, size_t rank) {
  if (ctx.opset < 11) return ctx.node.attr_ints("pads");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> given, read_int_input(ctx, 1));
  std::vector<int> axes(rank);
  for (size_t d = 0; d < rank; ++d) axes[d] = static_cast<int>(d);
  if (ctx.has_input(3)) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> listed, read_int_input(ctx, 3));
    EMBER_ASSIGN_OR_RETURN(axes, normalize_axes(listed, static_cast<int>(rank), ctx.where()));
  }
  if (given.size() != 2 * axes.size()) return invalid_input(ctx.where() + ": pads do not match the axes");
  std::vector<int64_t> pads(2 * rank, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    pads[size_t(axes[k])] = given[k];
    pads[size_t(axes[k]) + rank] = given[k + axes.size()];
  }
  return pads;
}

Status pad_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const Shape& ys = ctx.output_shapes[0];
  const size_t rank = xs.size();
  EMBER_ASSIGN_OR_RETURN(PadMode mode, read_pad_mode(ctx.node, ctx.where()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> pads, pad_amounts(ctx, rank));
  if (pads.size() != 2 * rank) return invalid_input(ctx.where() + ": pads do not match the input rank");
  std::vector<std::vector<int64_t>> maps(rank);
  for (size_t d = 0; d < rank; ++d)
    for (int64_t o = 0; o < ys[d]; ++o) maps[d].push_back(pad_source_coordinate(mode, o - pads[d], xs[d]));
  const std::vector<int64_t> strides = contiguous_strides(xs);
  Tensor dx = ctx.zeros(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  double dvalue = 0;
  std::vector<int64_t> at(rank, 0);
  for (int64_t o = 0, total = shape_numel(ys); o < total; ++o) {
    int64_t offset = 0;
    bool inside = true;
    for (size_t d = 0; d < rank && inside; ++d) {
      const int64_t s = maps[d][size_t(at[d])];
      inside = s >= 0;
      offset += s * strides[d];
    }
    if (inside) out[offset] += dy[o];
    else dvalue += dy[o];
    for (size_t d = rank; d-- > 0;) {
      if (++at[d] < ys[d]) break;
      at[d] = 0;
    }
  }
  if (ctx.wants(0)) ctx.input_grads[0] = std::move(dx);
  if (ctx.wants(2)) ctx.input_grads[2] = Tensor::from_vector<float>(ctx.input_shapes[2], {static_cast<float>(dvalue)});
  return Status::Ok();
}

Status tile_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const Shape& ys = ctx.output_shapes[0];
  Shape split, target;  // [r0, n0, r1, n1, ...] and [1, n0, 1, n1, ...]
  for (size_t d = 0; d < xs.size(); ++d) {
    if (xs[d] == 0) {  // an empty axis: no gradient to move
      ctx.input_grads[0] = ctx.zeros(xs);
      return Status::Ok();
    }
    split.insert(split.end(), {ys[d] / xs[d], xs[d]});
    target.insert(target.end(), {1, xs[d]});
  }
  ctx.input_grads[0] = reduce_to_shape(ctx, ctx.output_grad(0).reshaped(split), target).reshaped(xs);
  return Status::Ok();
}

// The forward is y = permute(x viewed as `dims`, perm): y's axis k is x's axis perm[k].
// dX[src] = dy[o] walks the same pairs as the forward's copy.
template <bool kToSpace>
Status depth_space_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const int64_t b = ctx.node.attr_int("blocksize", 0);
  if (xs.size() != 4 || b <= 0) return invalid_input(ctx.where() + ": needs a rank-4 input and a positive blocksize");
  const int64_t n = xs[0], c = xs[1], h = xs[2], w = xs[3];
  std::array<int64_t, 6> dims{};
  std::array<int, 6> perm{};
  if (kToSpace && ctx.node.attr_string("mode", "DCR") == "CRD") {
    dims = {n, c / (b * b), b, b, h, w}, perm = {0, 1, 4, 2, 5, 3};
  } else if (kToSpace) {
    dims = {n, b, b, c / (b * b), h, w}, perm = {0, 3, 4, 1, 5, 2};
  } else {
    dims = {n, c, h / b, b, w / b, b}, perm = {0, 3, 5, 1, 2, 4};
  }
  std::array<int64_t, 6> stride{};
  stride[5] = 1;
  for (int d = 4; d >= 0; --d) stride[size_t(d)] = stride[size_t(d) + 1] * dims[size_t(d) + 1];
  Tensor dx = ctx.allocate(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  std::array<int64_t, 6> idx{};
  for (int64_t o = 0, total = shape_numel(xs); o < total; ++o) {
    int64_t src = 0;
    for (size_t d = 0; d < 6; ++d) src += idx[d] * stride[size_t(perm[d])];
    out[src] = dy[o];
    for (size_t d = 6; d-- > 0;) {
      if (++idx[d] < dims[size_t(perm[d])]) break;
      idx[d] = 0;
    }
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

GradNeeds needs_input1(const ir::Node&, IndexMask) { return {bit(1), 0}; }

Status reverse_sequence_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> lens, read_int_input(ctx, 1));
  const int time_axis = int(ctx.node.attr_int("time_axis", 0));
  if (xs.size() < 2 || (time_axis != 0 && time_axis != 1)) return invalid_input(ctx.where() + ": bad time_axis");
  const int64_t steps = xs[size_t(time_axis)], batch = xs[size_t(1 - time_axis)];
  if (int64_t(lens.size()) != batch) return invalid_input(ctx.where() + ": sequence_lens must have one value per batch row");
  const int64_t inner = shape_numel(xs) / std::max<int64_t>(1, steps * batch);
  Tensor dx = ctx.allocate(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t bi = 0; bi < batch; ++bi) {
    const int64_t len = std::clamp<int64_t>(lens[size_t(bi)], 0, steps);
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < len ? len - 1 - t : t;
      auto at = [&](int64_t tt) { return (time_axis == 0 ? tt * batch + bi : bi * steps + tt) * inner; };
      std::copy_n(dy + at(t), inner, out + at(from));
    }
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status trilu_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  if (xs.size() < 2) return invalid_input(ctx.where() + ": input must have rank >= 2");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> kv, read_int_input(ctx, 1));
  const int64_t k = kv.empty() ? 0 : kv[0];
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t rows = xs[xs.size() - 2], cols = xs.back();
  Tensor dx = ctx.allocate(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t i = 0, total = shape_numel(xs); i < total; ++i) {
    const int64_t col = i % cols, row = (i / cols) % rows;
    out[i] = (upper ? col - row >= k : col - row <= k) ? dy[i] : 0.0f;
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status cumsum_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axis_value, read_int_input(ctx, 1));
  if (axis_value.size() != 1) return invalid_input(ctx.where() + ": axis must hold one value");
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_value[0], static_cast<int>(xs.size()), ctx.where()));
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) == 0;  // the adjoint runs the other way
  const int64_t outer = product(xs, 0, size_t(axis)), n = xs[size_t(axis)], inner = product(xs, size_t(axis) + 1, xs.size());
  Tensor dx = ctx.allocate(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0;
      for (int64_t step = 0; step < n; ++step) {
        const int64_t at = (o * n + (reverse ? n - 1 - step : step)) * inner + i;
        if (exclusive) {
          out[at] = static_cast<float>(sum);
          sum += dy[at];
        } else {
          sum += dy[at];
          out[at] = static_cast<float>(sum);
        }
      }
    }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status center_crop_pad_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const Shape& ys = ctx.output_shapes[0];
  const size_t rank = xs.size();
  if (ys.size() != rank) return invalid_input(ctx.where() + ": the output rank differs from the input's");
  // Per axis the forward copies `extent` elements from x at src_start to y at dst_start.
  std::vector<int64_t> src_start(rank, 0), dst_start(rank, 0), extent(rank);
  for (size_t d = 0; d < rank; ++d) {
    extent[d] = std::min(xs[d], ys[d]);
    if (ys[d] <= xs[d]) src_start[d] = (xs[d] - ys[d]) / 2;
    else dst_start[d] = (ys[d] - xs[d]) / 2;
  }
  Tensor dx = ctx.zeros(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  std::vector<int64_t> idx(rank, 0);
  for (int64_t k = 0, total = shape_numel(Shape(extent.begin(), extent.end())); k < total; ++k) {
    int64_t s = 0, t = 0;
    for (size_t d = 0; d < rank; ++d) {
      s = s * xs[d] + src_start[d] + idx[d];
      t = t * ys[d] + dst_start[d] + idx[d];
    }
    out[s] = dy[t];
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < extent[d]) break;
      idx[d] = 0;
    }
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_rearrange_grads(GradRegistry& r) {
  r.add("Pad", bit(0) | bit(2), needs_int_inputs, pad_backward);
  r.add("Tile", bit(0), needs_nothing, tile_backward);
  r.add("DepthToSpace", bit(0), needs_nothing, depth_space_backward<true>);
  r.add("SpaceToDepth", bit(0), needs_nothing, depth_space_backward<false>);
  r.add("ReverseSequence", bit(0), needs_input1, reverse_sequence_backward);
  r.add("Trilu", bit(0), needs_input1, trilu_backward);
  r.add("CumSum", bit(0), needs_input1, cumsum_backward);
  r.add("CenterCropPad", bit(0), needs_nothing, center_crop_pad_backward);
}

}  // namespace ember::runtime::grad
