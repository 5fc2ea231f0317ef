// Pad: modes constant, reflect, edge (and wrap, opset 19). Each axis gets a table that maps
// an output coordinate to its source coordinate, or to -1 for "use the constant"; negative
// pads crop. Opset 2 takes pads and value as attributes, opset 11 as inputs, and opset 18
// adds an axes input that says which axes the pads apply to.
#include <algorithm>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {

Result<PadMode> read_pad_mode(const ir::Node& node, const std::string& where) {
  const std::string mode = node.attr_string("mode", "constant");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  if (mode == "wrap") return PadMode::kWrap;
  return invalid_input(where + ": unknown mode '" + mode + "'");
}

int64_t pad_source_coordinate(PadMode mode, int64_t i, int64_t n) {
  switch (mode) {
    case PadMode::kConstant: return i >= 0 && i < n ? i : -1;
    case PadMode::kEdge: return std::clamp<int64_t>(i, 0, n - 1);
    case PadMode::kWrap: return ((i % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

namespace {


// `pads` holds 2 * rank values: all begins, then all ends. `value` is a one-element tensor
// of the data's type, or undefined for zero.
Status pad(RunContext& ctx, const std::vector<int64_t>& pads, PadMode mode, const Tensor& value) {
  const Tensor& in = ctx.input(0);
  const size_t rank = in.shape().size();
  Shape out_shape(rank);
  std::vector<std::vector<int64_t>> maps(rank);  // output coordinate -> source coordinate or -1
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = in.shape()[d];
    const int64_t begin = pads[d];
    out_shape[d] = n + begin + pads[d + rank];
    if (out_shape[d] < 0)
      return invalid_input(ctx.where() + ": pads crop axis " + std::to_string(d) + " of size " + std::to_string(n) +
                           " below zero");
    if (mode != PadMode::kConstant && n == 0 && out_shape[d] > 0)
      return invalid_input(ctx.where() + ": cannot pad an empty axis " + std::to_string(d) + " in this mode");
    maps[d].resize(size_t(out_shape[d]));
    for (int64_t o = 0; o < out_shape[d]; ++o) maps[d][size_t(o)] = pad_source_coordinate(mode, o - begin, n);
  }
  if (value.defined() && (value.dtype() != in.dtype() || value.numel() != 1))
    return invalid_input(ctx.where() + ": the constant value must be one " + std::string(dtype_name(in.dtype())) +
                         " element");
  const std::vector<int64_t> strides = contiguous_strides(in.shape());
  const int64_t inner = rank ? out_shape.back() : 1;
  const int64_t rows = inner ? shape_numel(out_shape) / inner : 0;
  const bool known = dispatch_storage(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T fill = value.defined() ? elements<T>(value)[0] : T{};
    const T* src = elements<T>(in);
    T* dst = allocate_elements<T>(ctx, 0, in.dtype(), out_shape);
    if (rank == 0) {
      dst[0] = src[0];
      return;
    }
    const std::vector<int64_t>& last = maps.back();
    parallel_for(rows, std::max<int64_t>(1, kCopyGrainElements / inner), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        T* out = dst + row * inner;
        int64_t offset = 0;
        bool inside = true;
        for (int64_t d = int64_t(rank) - 2, rest = row; d >= 0 && inside; --d) {
          const int64_t source = maps[size_t(d)][size_t(rest % out_shape[size_t(d)])];
          rest /= out_shape[size_t(d)];
          inside = source >= 0;
          offset += source * strides[size_t(d)];
        }
        if (!inside) {
          std::fill_n(out, inner, fill);
          continue;
        }
        const T* in_row = src + offset;
        for (int64_t j = 0; j < inner; ++j) out[j] = last[size_t(j)] >= 0 ? in_row[last[size_t(j)]] : fill;
      }
    });
  });
  if (!known) return unsupported_dtype(ctx, in.dtype());
  return Status::Ok();
}

// A one-element tensor of `dtype` holding `value` (opset 2's float attribute).
Result<Tensor> scalar_of_type(const RunContext& ctx, DType dtype, float value) {
  Tensor t = Tensor::zeros(dtype, {});
  const bool known = dispatch_arithmetic(dtype, [&](auto arith) {
    using A = decltype(arith);
    t.mutable_data<typename A::Storage>()[0] = A::store(static_cast<typename A::Compute>(value));
  });
  if (!known) return unsupported_dtype(ctx, dtype);
  return t;
}

}  // namespace

Status run_pad_v2(RunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(PadMode mode, read_pad_mode(ctx.node, ctx.where()));
  const std::vector<int64_t> pads = ctx.node.attr_ints("pads");
  const Tensor& in = ctx.input(0);
  if (pads.size() != 2 * in.shape().size())
    return invalid_input(ctx.where() + ": " + std::to_string(pads.size()) + " pads for an input of rank " +
                         std::to_string(in.rank()));
  const float value = ctx.node.attr_float("value", 0.0f);
  Tensor fill;
  if (value != 0.0f) {
    EMBER_ASSIGN_OR_RETURN(fill, scalar_of_type(ctx, in.dtype(), value));
  }
  return pad(ctx, pads, mode, fill);
}

Status run_pad_v11(RunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(PadMode mode, read_pad_mode(ctx.node, ctx.where()));
  const Tensor& in = ctx.input(0);
  const int rank = in.rank();
  if (!ctx.has_input(1)) return invalid_input(ctx.where() + ": the pads input is missing");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> given, read_indices(ctx, 1));
  std::vector<int> axes(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) axes[size_t(d)] = d;
  if (ctx.has_input(3)) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> listed, read_indices(ctx, 3));
    EMBER_ASSIGN_OR_RETURN(axes, normalize_axes(listed, rank, ctx.where()));
  }
  if (given.size() != 2 * axes.size())
    return invalid_input(ctx.where() + ": " + std::to_string(given.size()) + " pads for " +
                         std::to_string(axes.size()) + " axes");
  std::vector<int64_t> pads(2 * size_t(rank), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    pads[size_t(axes[k])] = given[k];
    pads[size_t(axes[k]) + size_t(rank)] = given[k + axes.size()];
  }
  const Tensor fill = ctx.has_input(2) ? ctx.input(2) : Tensor();
  return pad(ctx, pads, mode, fill);
}

}  // namespace ember::runtime
