#include "runtime/kernels/shape_common.h"
#include "ir/nibbles.h"

namespace ember::runtime {
namespace {

Tensor unpack_nibbles(const Tensor& packed, TensorAllocator& allocator) {
  Tensor bytes = allocator.allocate(DType::kU8, packed.shape());
  const uint8_t* in = packed.data<uint8_t>();
  uint8_t* out = bytes.mutable_data<uint8_t>();
  const int64_t n = packed.numel();
  nibbles::unpack(in, n, /*is_signed=*/false, out);
  return bytes;
}

void pack_nibbles(const Tensor& bytes, Tensor& packed) {
  const uint8_t* in = bytes.data<uint8_t>();
  uint8_t* out = packed.mutable_data<uint8_t>();
  const int64_t n = bytes.numel();
  nibbles::pack(in, n, out);
}

}  // namespace

Status run_with_nibbles_unpacked(RunContext& ctx, RunFunction fn) {
  DType packed_type = DType::kUndefined;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && is_packed_nibbles(ctx.input(i).dtype())) packed_type = ctx.input(i).dtype();
  if (packed_type == DType::kUndefined) return fn(ctx);

  std::vector<Tensor> unpacked(ctx.num_inputs());
  std::vector<const Tensor*> inputs(ctx.num_inputs(), nullptr);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const Tensor& in = ctx.input(i);
    if (in.dtype() == DType::kU8)  // a u8 input next to a 4-bit one would be mistaken for it
      return unsupported(ctx.where() + ": mixing u8 and " + std::string(dtype_name(packed_type)) + " inputs");
    if (is_packed_nibbles(in.dtype())) {
      if (in.dtype() != packed_type)
        return invalid_input(ctx.where() + ": inputs mix element types i4 and u4");
      unpacked[i] = unpack_nibbles(in, ctx.allocator);
      inputs[i] = &unpacked[i];
    } else {
      inputs[i] = &in;
    }
  }
  std::vector<Tensor> outputs(ctx.outputs.size());
  RunContext inner{ctx.node, inputs, outputs, ctx.allocator};
  EMBER_TRY(fn(inner));
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].dtype() != DType::kU8) {
      ctx.outputs[i] = std::move(outputs[i]);
      continue;
    }
    Tensor& packed = ctx.allocate_output(i, packed_type, outputs[i].shape());
    pack_nibbles(outputs[i], packed);
  }
  return Status::Ok();
}

Result<std::vector<int>> normalize_axes(const std::vector<int64_t>& axes, int rank, const std::string& where) {
  std::vector<int> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    const int64_t wrapped = axis < 0 ? axis + rank : axis;
    if (wrapped < 0 || wrapped >= rank)
      return invalid_input(where + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    const int a = static_cast<int>(wrapped);
    if (seen[size_t(a)]) return invalid_input(where + ": axis " + std::to_string(axis) + " is repeated");
    seen[size_t(a)] = true;
    out.push_back(a);
  }
  return out;
}

Result<std::vector<int64_t>> read_indices(const RunContext& ctx, size_t index) {
  const Tensor& t = ctx.input(index);
  if (t.dtype() != DType::kI64 && t.dtype() != DType::kI32)
    return invalid_input(ctx.where() + ": input " + std::to_string(index) + " must be int32 or int64, got " +
                         std::string(dtype_name(t.dtype())));
  auto values = t.to_int64s();
  if (!values.ok()) return values.status().with_context(ctx.where());
  return values;
}

}  // namespace ember::runtime

namespace ember::runtime {

Result<std::vector<int64_t>> element_offsets(const RunContext& ctx, const Tensor& data, const Tensor& indices,
                                             int axis) {
  if (indices.rank() != data.rank())
    return invalid_input(ctx.where() + ": indices " + shape_to_string(indices.shape()) + " and data " +
                         shape_to_string(data.shape()) + " must have the same rank");
  for (int d = 0; d < data.rank(); ++d)
    if (d != axis && indices.dim(d) > data.dim(d))
      return invalid_input(ctx.where() + ": indices " + shape_to_string(indices.shape()) + " exceed data " +
                           shape_to_string(data.shape()) + " on axis " + std::to_string(d));
  if (indices.dtype() != DType::kI64 && indices.dtype() != DType::kI32)
    return invalid_input(ctx.where() + ": indices must be int32 or int64");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> values, indices.to_int64s());
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const Shape& shape = indices.shape();
  std::vector<int64_t> offsets(values.size());
  std::vector<int64_t> position(shape.size(), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t offset = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      int64_t coordinate = position[d];
      if (int(d) == axis) {
        EMBER_ASSIGN_OR_RETURN(coordinate, wrap_index(values[i], data.dim(axis), ctx.where()));
      }
      offset += coordinate * strides[d];
    }
    offsets[i] = offset;
    for (size_t d = shape.size(); d-- > 0;) {  // odometer over the indices' shape
      if (++position[d] < shape[d]) break;
      position[d] = 0;
    }
  }
  return offsets;
}

Result<SliceOffsets> slice_offsets(const RunContext& ctx, const Tensor& data, const Tensor& indices,
                                   int64_t batch_dims) {
  const int64_t q = indices.rank();
  const int64_t r = data.rank();
  if (q < 1 || r < 1) return invalid_input(ctx.where() + ": data and indices need rank >= 1");
  const int64_t k = indices.shape().back();
  if (batch_dims < 0 || batch_dims >= std::min(q, r) || k < 1 || k > r - batch_dims)
    return invalid_input(ctx.where() + ": indices " + shape_to_string(indices.shape()) + " with batch_dims " +
                         std::to_string(batch_dims) + " do not fit data " + shape_to_string(data.shape()));
  const size_t b = size_t(batch_dims);
  for (size_t d = 0; d < b; ++d)
    if (data.shape()[d] != indices.shape()[d])
      return invalid_input(ctx.where() + ": batch dims of data " + shape_to_string(data.shape()) + " and indices " +
                           shape_to_string(indices.shape()) + " differ");
  if (indices.dtype() != DType::kI64 && indices.dtype() != DType::kI32)
    return invalid_input(ctx.where() + ": indices must be int32 or int64");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> values, indices.to_int64s());
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  SliceOffsets out;
  out.slice_shape.assign(data.shape().begin() + std::ptrdiff_t(b + size_t(k)), data.shape().end());
  out.slice = shape_numel(out.slice_shape);
  const int64_t batch_stride = product(data.shape(), b, data.shape().size());
  const int64_t tuples_per_batch = product(indices.shape(), b, size_t(q) - 1);
  const int64_t tuples = int64_t(values.size()) / k;
  out.offsets.resize(size_t(tuples));
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t offset = (t / tuples_per_batch) * batch_stride;
    for (int64_t j = 0; j < k; ++j) {
      const size_t d = b + size_t(j);
      EMBER_ASSIGN_OR_RETURN(int64_t index, wrap_index(values[size_t(t * k + j)], data.shape()[d], ctx.where()));
      offset += index * strides[d];
    }
    out.offsets[size_t(t)] = offset;
  }
  return out;
}

}  // namespace ember::runtime
