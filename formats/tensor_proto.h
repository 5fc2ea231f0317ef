// TensorProto <-> Tensor, shared by the ONNX model reader/writer and the .pb tensor files.
// Reading takes raw_data out of the proto without copying it, converts the typed repeated
// fields (float_data, int32_data, ...) to the raw little-endian layout, and resolves external
// data. Writing always uses raw_data (string_data for strings).
#pragma once
#include <memory>
#include <string>

#include <onnx/onnx_pb.h>

#include "formats/external_data.h"
#include "ir/tensor.h"

namespace ember::formats {

// Largest element count accepted from a file; keeps byte counts far from overflow.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 56;

// Element count of `dims`, or invalid_input when a dim is negative or the product is absurd.
// `what` names the tensor in the message.
Result<int64_t> checked_numel(const Shape& dims, const std::string& what);

// Converts `proto`, moving its raw_data into the tensor's shared owner (the proto's raw_data
// is left empty). `external` resolves EXTERNAL data; nullptr makes such tensors an error.
// Unknown data types are unsupported errors naming the tensor.
Result<Tensor> tensor_from_proto(onnx::TensorProto& proto, ExternalDataReader* external);

// Sets name, dims and data_type only: the header the writer streams raw bytes after.
void tensor_header_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* out);
// Header plus a copy of the data in raw_data (string_data for strings).
Status tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* out);

// A view of `data` when it is suitably aligned for SIMD loads, otherwise an aligned copy
// (small protobuf strings and odd external-data offsets are not aligned).
Tensor view_or_aligned_copy(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data, size_t nbytes);

}  // namespace ember::formats
