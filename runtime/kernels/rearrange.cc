// Ops that move or select elements without arithmetic (ONNX reference semantics):
//   Dropout (identity at inference; mask all true), DepthToSpace (DCR / CRD), SpaceToDepth,
//   ReverseSequence, Compress, EyeLike, TopK (ties keep the lower index first).
// Elements are copied as bytes wherever the op does not compare values.
#include <algorithm>
#include <cstring>
#include <array>
#include <numeric>

#include "ir/dtype_dispatch.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

size_t element_size(const RunContext& ctx, DType d, Status& status) {
  const int bits = traits(d).bits;
  if (bits == 0 || bits % 8) status = invalid_input(ctx.where() + ": element type " + std::string(dtype_name(d)) + " is not supported");
  return size_t(bits / 8);
}

Status run_dropout(RunContext& ctx) {
  if (!ctx.has_input(0)) return invalid_input(ctx.where() + ": input is missing");
  bool training = ctx.node.attr_int("is_test", 1) == 0 && ctx.node.find_attr("is_test");
  if (ctx.has_input(2)) {
    const Tensor& t = ctx.input(2);
    if (t.dtype() != DType::kBool || t.numel() != 1) return invalid_input(ctx.where() + ": training_mode must be one bool");
    training = t.data<uint8_t>()[0] != 0;
  }
  double ratio = ctx.node.attr_float("ratio", 0.5f);
  if (ctx.has_input(1)) {
    const Tensor& r = ctx.input(1);
    ratio = r.dtype() == DType::kF64 ? r.data<double>()[0] : r.dtype() == DType::kF32 ? r.data<float>()[0] : ratio;
  }
  if (training && ratio != 0) return unsupported(ctx.where() + ": training-mode dropout is random; Ember runs inference only");
  ctx.outputs[0] = ctx.input(0);
  if (ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty()) {
    Tensor& mask = ctx.allocate_output(1, DType::kBool, ctx.input(0).shape());
    std::memset(mask.raw_mutable(), 1, mask.nbytes());
  }
  return Status::Ok();
}

// Copies `x` (rank 6 view `dims`) permuted by `perm` into `y`.
void permute6(const uint8_t* x, uint8_t* y, const std::array<int64_t, 6>& dims, const std::array<int, 6>& perm, size_t esize) {
  std::array<int64_t, 6> stride{};
  stride[5] = 1;
  for (int d = 4; d >= 0; --d) stride[size_t(d)] = stride[size_t(d) + 1] * dims[size_t(d) + 1];
  std::array<int64_t, 6> idx{};
  const int64_t total = dims[0] * dims[1] * dims[2] * dims[3] * dims[4] * dims[5];
  for (int64_t o = 0; o < total; ++o) {
    int64_t src = 0;
    for (int d = 0; d < 6; ++d) src += idx[size_t(d)] * stride[size_t(perm[size_t(d)])];
    std::memcpy(y + size_t(o) * esize, x + size_t(src) * esize, esize);
    for (int d = 5; d >= 0; --d) {
      if (++idx[size_t(d)] < dims[size_t(perm[size_t(d)])]) break;
      idx[size_t(d)] = 0;
    }
  }
}

Status run_depth_space(RunContext& ctx, bool to_space) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const int64_t b = ctx.node.attr_int("blocksize", 0);
  if (x.rank() != 4 || b <= 0) return invalid_input(ctx.where() + ": needs a rank-4 input and a positive blocksize");
  Status st = Status::Ok();
  const size_t es = element_size(ctx, x.dtype(), st);
  EMBER_TRY(st);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const auto* src = static_cast<const uint8_t*>(x.raw());
  if (to_space) {
    if (c % (b * b)) return invalid_input(ctx.where() + ": channels " + std::to_string(c) + " are not a multiple of blocksize^2");
    const bool crd = ctx.node.attr_string("mode", "DCR") == "CRD";
    Tensor& y = ctx.allocate_output(0, x.dtype(), {n, c / (b * b), h * b, w * b});
    if (crd) permute6(src, static_cast<uint8_t*>(y.raw_mutable()), {n, c / (b * b), b, b, h, w}, {0, 1, 4, 2, 5, 3}, es);
    else permute6(src, static_cast<uint8_t*>(y.raw_mutable()), {n, b, b, c / (b * b), h, w}, {0, 3, 4, 1, 5, 2}, es);
    return Status::Ok();
  }
  if (h % b || w % b) return invalid_input(ctx.where() + ": height and width must be multiples of blocksize");
  Tensor& y = ctx.allocate_output(0, x.dtype(), {n, c * b * b, h / b, w / b});
  permute6(src, static_cast<uint8_t*>(y.raw_mutable()), {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, es);
  return Status::Ok();
}
Status run_depth_to_space(RunContext& ctx) { return run_depth_space(ctx, true); }
Status run_space_to_depth(RunContext& ctx) { return run_depth_space(ctx, false); }

Status run_reverse_sequence(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> lens, read_indices(ctx, 1));
  const int time_axis = int(ctx.node.attr_int("time_axis", 0)), batch_axis = int(ctx.node.attr_int("batch_axis", 1));
  if (x.rank() < 2 || (time_axis != 0 && time_axis != 1) || batch_axis != 1 - time_axis)
    return invalid_input(ctx.where() + ": time_axis and batch_axis must be 0 and 1 in some order");
  Status st = Status::Ok();
  const size_t es = element_size(ctx, x.dtype(), st);
  EMBER_TRY(st);
  const int64_t steps = x.dim(time_axis), batch = x.dim(batch_axis);
  if (int64_t(lens.size()) != batch) return invalid_input(ctx.where() + ": sequence_lens must have one value per batch row");
  const size_t inner = size_t(x.numel() / std::max<int64_t>(1, steps * batch)) * es;
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw_mutable());
  for (int64_t bi = 0; bi < batch; ++bi) {
    if (lens[size_t(bi)] < 0 || lens[size_t(bi)] > steps) return invalid_input(ctx.where() + ": sequence length out of range");
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < lens[size_t(bi)] ? lens[size_t(bi)] - 1 - t : t;
      auto at = [&](int64_t tt) { return size_t(time_axis == 0 ? tt * batch + bi : bi * steps + tt) * inner; };
      std::memcpy(dst + at(t), src + at(from), inner);
    }
  }
  return Status::Ok();
}

Status run_compress(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::kBool || cond.rank() != 1) return invalid_input(ctx.where() + ": condition must be a 1-D bool tensor");
  Status st = Status::Ok();
  const size_t es = element_size(ctx, x.dtype(), st);
  EMBER_TRY(st);
  const ir::Attribute* axis_attr = ctx.node.find_attr("axis");
  const Shape shape = axis_attr ? x.shape() : Shape{x.numel()};
  int64_t axis = axis_attr ? axis_attr->i : 0;
  if (axis < 0) axis += int64_t(shape.size());
  if (axis < 0 || axis >= int64_t(shape.size())) return invalid_input(ctx.where() + ": axis out of range");
  const int64_t dim = shape[size_t(axis)];
  if (cond.numel() > dim) return invalid_input(ctx.where() + ": condition is longer than the axis");
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i)
    if (cond.data<uint8_t>()[i]) keep.push_back(i);
  Shape out = shape;
  out[size_t(axis)] = int64_t(keep.size());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  Tensor& y = ctx.allocate_output(0, x.dtype(), out);
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw_mutable());
  const size_t row = size_t(inner) * es;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < keep.size(); ++k) std::memcpy(dst + (size_t(o) * keep.size() + k) * row, src + size_t(o * dim + keep[k]) * row, row);
  return Status::Ok();
}

Status run_eye_like(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) return invalid_input(ctx.where() + ": input must be 2-D");
  const ir::Attribute* dtype_attr = ctx.node.find_attr("dtype");
  const DType dtype = dtype_attr ? static_cast<DType>(dtype_attr->i) : x.dtype();
  const int64_t k = ctx.node.attr_int("k", 0);
  Tensor& y = ctx.allocate_output(0, dtype, x.shape());
  std::memset(y.raw_mutable(), 0, y.nbytes());
  const bool ok = dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t r = 0; r < x.dim(0); ++r)
      if (r + k >= 0 && r + k < x.dim(1)) y.mutable_data<T>()[r * x.dim(1) + r + k] = T(1);
  });
  return ok ? Status::Ok() : invalid_input(ctx.where() + ": output type " + std::string(dtype_name(dtype)) + " is not supported");
}

Status run_topk(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 2));
  const Tensor& x = ctx.input(0);
  int64_t k = ctx.node.attr_int("k", -1);
  if (ctx.has_input(1)) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> kv, read_indices(ctx, 1));
    if (kv.size() != 1) return invalid_input(ctx.where() + ": K must hold one value");
    k = kv[0];
  }
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis >= x.rank()) return invalid_input(ctx.where() + ": axis out of range");
  const int64_t dim = x.dim(int(axis));
  if (k < 0 || k > dim) return invalid_input(ctx.where() + ": K = " + std::to_string(k) + " is outside [0, " + std::to_string(dim) + "]");
  const bool largest = ctx.node.attr_int("largest", 1) != 0;
  Shape out = x.shape();
  out[size_t(axis)] = k;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(int(d));
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(int(d));
  Tensor& values = ctx.allocate_output(0, x.dtype(), out);
  Tensor& indices = ctx.allocate_output(1, DType::kI64, out);
  const bool ok = dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<int64_t> order(static_cast<size_t>(dim));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* src = x.data<T>() + o * dim * inner + i;
        std::iota(order.begin(), order.end(), 0);
        auto before = [&](int64_t a, int64_t b) {
          const T va = src[a * inner], vb = src[b * inner];
          if (va != vb) return largest ? va > vb : va < vb;
          return a < b;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          values.mutable_data<T>()[(o * k + j) * inner + i] = src[order[size_t(j)] * inner];
          indices.mutable_data<int64_t>()[(o * k + j) * inner + i] = order[size_t(j)];
        }
      }
  });
  return ok ? Status::Ok() : invalid_input(ctx.where() + ": element type " + std::string(dtype_name(x.dtype())) + " is not supported");
}

struct Entry {
  const char* op;
  int since;
  RunFunction run;
};
const Entry kRearrangeKernels[] = {
    {"Dropout", 1, run_dropout},           {"DepthToSpace", 1, run_depth_to_space}, {"SpaceToDepth", 1, run_space_to_depth},
    {"ReverseSequence", 10, run_reverse_sequence}, {"Compress", 9, run_compress}, {"EyeLike", 9, run_eye_like},
    {"TopK", 1, run_topk},
};

}  // namespace

void register_rearrange_kernels(KernelRegistry& registry) {
  for (const auto& e : kRearrangeKernels) registry.add_function(e.op, "", e.since, e.run);
}

}  // namespace ember::runtime
