#include "formats/value_pb.h"

#include <climits>

#include <onnx/onnx-data_pb.h>

#include "formats/mapped_file.h"
#include "formats/tensor_pb.h"
#include "formats/tensor_proto.h"

namespace ember::formats {
namespace {

// The element type of the tensors a sequence TypeProto holds (kUndefined when it says none).
DType sequence_elem_type(const onnx::TypeProto& type) {
  if (!type.has_sequence_type() || !type.sequence_type().elem_type().has_tensor_type()) return DType::kUndefined;
  const DTypeTraits* t = find_dtype_traits(type.sequence_type().elem_type().tensor_type().elem_type());
  return t ? t->dtype : DType::kUndefined;
}

Result<Value> sequence_from_proto(onnx::SequenceProto& proto, const onnx::TypeProto& type, const std::string& path) {
  if (proto.elem_type() != onnx::SequenceProto::TENSOR && proto.elem_type() != onnx::SequenceProto::UNDEFINED)
    return unsupported(path + ": a sequence of elem_type " + std::to_string(proto.elem_type()) + " (Ember runs sequences of tensors)");
  ExternalDataReader external(parent_directory(path));
  std::vector<Tensor> elements;
  for (int i = 0; i < proto.tensor_values_size(); ++i) {
    auto t = tensor_from_proto(*proto.mutable_tensor_values(i), &external);
    if (!t.ok()) return t.status().with_context(path + ": sequence element " + std::to_string(i));
    elements.push_back(std::move(t).value());
  }
  DType elem = elements.empty() ? sequence_elem_type(type) : elements[0].dtype();
  for (const auto& t : elements)
    if (t.dtype() != elem) return invalid_input(path + ": the sequence mixes element types");
  return Value::sequence(elem, std::move(elements));
}

Result<Value> optional_from_proto(onnx::OptionalProto& proto, const onnx::TypeProto& type, const std::string& path) {
  const onnx::TypeProto inner = type.has_optional_type() ? type.optional_type().elem_type() : onnx::TypeProto();
  const Value::Kind kind = inner.has_sequence_type() ? Value::Kind::kSequence : Value::Kind::kTensor;
  if (proto.has_tensor_value()) {
    ExternalDataReader external(parent_directory(path));
    auto t = tensor_from_proto(*proto.mutable_tensor_value(), &external);
    if (!t.ok()) return t.status().with_context(path);
    return Value::some(std::move(t).value());
  }
  if (proto.has_sequence_value()) {
    EMBER_ASSIGN_OR_RETURN(Value seq, sequence_from_proto(*proto.mutable_sequence_value(), inner, path));
    return Value::some(std::move(seq));
  }
  if (proto.has_sparse_tensor_value() || proto.has_map_value() || proto.has_optional_value())
    return unsupported(path + ": an optional of a sparse tensor, a map or an optional");
  DType elem = DType::kUndefined;
  if (kind == Value::Kind::kSequence) elem = sequence_elem_type(inner);
  else if (inner.has_tensor_type())
    if (const DTypeTraits* t = find_dtype_traits(inner.tensor_type().elem_type())) elem = t->dtype;
  return Value::none(kind, elem);
}

}  // namespace

Result<Value> read_value_pb(const std::string& path, const ir::ValueInfo& declared) {
  if (declared.is_tensor) {
    EMBER_ASSIGN_OR_RETURN(NamedTensor t, read_tensor_pb(path));
    return Value(std::move(t.tensor));
  }
  onnx::TypeProto type;
  if (!type.ParseFromString(declared.opaque_type))
    return invalid_input("value '" + declared.name + "': its declared type cannot be parsed");
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, map_file(path));
  if (file->size() > static_cast<size_t>(INT_MAX)) return unsupported(path + ": a .pb value file cannot exceed 2 GB");
  if (type.has_sequence_type()) {
    onnx::SequenceProto proto;
    if (!proto.ParseFromArray(file->data(), static_cast<int>(file->size())))
      return invalid_input(path + ": not a valid SequenceProto (the protobuf data is malformed or truncated)");
    return sequence_from_proto(proto, type, path);
  }
  if (type.has_optional_type()) {
    onnx::OptionalProto proto;
    if (!proto.ParseFromArray(file->data(), static_cast<int>(file->size())))
      return invalid_input(path + ": not a valid OptionalProto (the protobuf data is malformed or truncated)");
    return optional_from_proto(proto, type, path);
  }
  return unsupported(path + ": value '" + declared.name + "' is a map or another type Ember does not run");
}

}  // namespace ember::formats
