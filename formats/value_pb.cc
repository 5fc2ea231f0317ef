#include "formats/value_pb.h"

#include <climits>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx-data_pb.h>

#include "formats/atomic_file.h"
#include "formats/mapped_file.h"
#include "formats/tensor_pb.h"
#include "formats/tensor_proto.h"
#include "ir/memory_limits.h"

namespace ember::formats {
namespace {

// What a declared sequence or tensor TypeProto holds: sequence levels and innermost dtype.
struct SequenceType {
  int depth = 0;
  DType elem = DType::kUndefined;
};

SequenceType sequence_type_of(const onnx::TypeProto& type) {
  SequenceType s;
  const onnx::TypeProto* t = &type;
  while (t->has_sequence_type() && s.depth < kMaxSequenceDepth) {
    ++s.depth;
    t = &t->sequence_type().elem_type();
  }
  if (t->has_tensor_type())
    if (const DTypeTraits* traits = find_dtype_traits(t->tensor_type().elem_type())) s.elem = traits->dtype;
  return s;
}

// A SequenceProto of `level` (1 = the file's outermost) against the declared `type` of it.
Result<Value> sequence_from_proto(onnx::SequenceProto& proto, const onnx::TypeProto& type, const std::string& path,
                                  ExternalDataReader& external, int level) {
  const std::string where = path + (level > 1 ? ": nested sequence at depth " + std::to_string(level) : "");
  if (level > kMaxSequenceDepth) return unsupported(where + ": sequences nested deeper than " + std::to_string(kMaxSequenceDepth));
  const SequenceType declared = sequence_type_of(type);
  const bool of_sequences = proto.elem_type() == onnx::SequenceProto::SEQUENCE ||
                            (proto.elem_type() == onnx::SequenceProto::UNDEFINED && declared.depth > 1);
  if (!of_sequences && proto.elem_type() != onnx::SequenceProto::TENSOR && proto.elem_type() != onnx::SequenceProto::UNDEFINED)
    return unsupported(where + ": a sequence of elem_type " + std::to_string(proto.elem_type()) +
                       " (Ember runs sequences of tensors and of sequences)");
  const int length = of_sequences ? proto.sequence_values_size() : proto.tensor_values_size();
  EMBER_TRY(check_sequence_length(length, where));
  if (!of_sequences) {
    std::vector<Tensor> elements;
    for (int i = 0; i < length; ++i) {
      auto t = tensor_from_proto(*proto.mutable_tensor_values(i), &external);
      if (!t.ok()) return t.status().with_context(where + ": sequence element " + std::to_string(i));
      elements.push_back(std::move(t).value());
    }
    DType elem = elements.empty() ? declared.elem : elements[0].dtype();
    for (const auto& t : elements)
      if (t.dtype() != elem) return invalid_input(where + ": the sequence mixes element types");
    return Value::sequence(elem, std::move(elements));
  }
  const onnx::TypeProto inner = type.has_sequence_type() ? type.sequence_type().elem_type() : onnx::TypeProto();
  std::vector<Value> items;
  for (int i = 0; i < length; ++i) {
    EMBER_ASSIGN_OR_RETURN(Value item, sequence_from_proto(*proto.mutable_sequence_values(i), inner, path, external, level + 1));
    if (!items.empty() && (item.depth() != items[0].depth() || item.elem_type() != items[0].elem_type()))
      return invalid_input(where + ": item " + std::to_string(i) + " is a " + item.type_string() + ", item 0 a " + items[0].type_string());
    items.push_back(std::move(item));
  }
  const int depth = items.empty() ? std::max(2, declared.depth) : items[0].depth() + 1;
  const DType elem = items.empty() ? declared.elem : items[0].elem_type();
  return Value::nested_sequence(depth, elem, std::move(items));
}

Result<Value> optional_from_proto(onnx::OptionalProto& proto, const onnx::TypeProto& type, const std::string& path,
                                  ExternalDataReader& external) {
  const onnx::TypeProto inner = type.has_optional_type() ? type.optional_type().elem_type() : onnx::TypeProto();
  if (proto.has_tensor_value()) {
    auto t = tensor_from_proto(*proto.mutable_tensor_value(), &external);
    if (!t.ok()) return t.status().with_context(path);
    return Value::some(std::move(t).value());
  }
  if (proto.has_sequence_value()) {
    EMBER_ASSIGN_OR_RETURN(Value seq, sequence_from_proto(*proto.mutable_sequence_value(), inner, path, external, 1));
    return Value::some(std::move(seq));
  }
  if (proto.has_sparse_tensor_value() || proto.has_map_value() || proto.has_optional_value())
    return unsupported(path + ": an optional of a sparse tensor, a map or an optional");
  const SequenceType declared = sequence_type_of(inner);
  const bool of_sequence = declared.depth > 0 || proto.elem_type() == onnx::OptionalProto::SEQUENCE;
  return Value::none(of_sequence ? Value::Kind::kSequence : Value::Kind::kTensor, declared.elem, std::max(1, declared.depth));
}

template <class Proto>
Status parse_file(const std::string& path, Proto& proto, const char* what) {
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, map_file(path));
  if (file->size() > static_cast<size_t>(INT_MAX)) return unsupported(path + ": a .pb value file cannot exceed 2 GB");
  if (!proto.ParseFromArray(file->data(), static_cast<int>(file->size())))
    return invalid_input(path + ": not a valid " + what + " (the protobuf data is malformed or truncated)");
  return Status::Ok();
}

Status sequence_to_proto(const Value& seq, const std::string& name, onnx::SequenceProto* out) {
  out->set_name(name);
  if (seq.depth() > 1) {
    out->set_elem_type(onnx::SequenceProto::SEQUENCE);
    for (const auto& item : seq.items()) EMBER_TRY(sequence_to_proto(item, "", out->add_sequence_values()));
    return Status::Ok();
  }
  out->set_elem_type(onnx::SequenceProto::TENSOR);
  for (const auto& t : seq.elements()) EMBER_TRY(tensor_to_proto(t, "", out->add_tensor_values()));
  return Status::Ok();
}

Status optional_to_proto(const Value& opt, const std::string& name, onnx::OptionalProto* out) {
  out->set_name(name);
  const bool of_sequence = opt.inner_kind() == Value::Kind::kSequence;
  out->set_elem_type(of_sequence ? onnx::OptionalProto::SEQUENCE : onnx::OptionalProto::TENSOR);
  if (!opt.has_element()) return Status::Ok();
  if (of_sequence) return sequence_to_proto(opt.element(), "", out->mutable_sequence_value());
  return tensor_to_proto(opt.element().tensor(), "", out->mutable_tensor_value());
}

template <class Proto>
Status write_proto(const std::string& path, const Proto& proto, const std::string& name) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!proto.SerializeToCodedStream(&coded)) return internal_error("cannot serialize value '" + name + "'");
  }
  return write_string_atomic(path, bytes);
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
  ExternalDataReader external(parent_directory(path));
  if (type.has_sequence_type()) {
    onnx::SequenceProto proto;
    EMBER_TRY(parse_file(path, proto, "SequenceProto"));
    return sequence_from_proto(proto, type, path, external, 1);
  }
  if (type.has_optional_type()) {
    onnx::OptionalProto proto;
    EMBER_TRY(parse_file(path, proto, "OptionalProto"));
    return optional_from_proto(proto, type, path, external);
  }
  return unsupported(path + ": value '" + declared.name + "' is a map or another type Ember does not run");
}

Status write_value_pb(const std::string& path, const std::string& name, const Value& value) {
  if (value.is_tensor()) return write_tensor_pb(path, name, value.tensor());
  if (value.is_sequence()) {
    onnx::SequenceProto proto;
    EMBER_TRY(sequence_to_proto(value, name, &proto).with_context("cannot write '" + path + "'"));
    return write_proto(path, proto, name);
  }
  onnx::OptionalProto proto;
  EMBER_TRY(optional_to_proto(value, name, &proto).with_context("cannot write '" + path + "'"));
  return write_proto(path, proto, name);
}

}  // namespace ember::formats
