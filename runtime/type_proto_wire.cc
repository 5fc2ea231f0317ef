#include "runtime/type_proto_wire.h"

namespace ember::runtime {
namespace {

std::optional<uint64_t> read_varint(std::string_view& bytes) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && !bytes.empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(bytes.front());
    bytes.remove_prefix(1);
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<WireField> find_wire_field(std::string_view message, uint64_t number) {
  while (!message.empty()) {
    auto key = read_varint(message);
    if (!key) return std::nullopt;
    const uint64_t wire = *key & 7;
    WireField field;
    if (wire == 0) {
      auto v = read_varint(message);
      if (!v) return std::nullopt;
      field.varint = *v;
    } else if (wire == 2) {
      auto len = read_varint(message);
      if (!len || *len > message.size()) return std::nullopt;
      field.bytes = message.substr(0, size_t(*len));
      message.remove_prefix(size_t(*len));
    } else if (wire == 1 || wire == 5) {
      const size_t n = wire == 1 ? 8 : 4;
      if (message.size() < n) return std::nullopt;
      message.remove_prefix(n);
    } else {
      return std::nullopt;
    }
    if ((*key >> 3) == number) return field;
  }
  return std::nullopt;
}

namespace {

// TypeProto (a tensor or a sequence, nested) into `type`; false for other types.
bool read_sequence_or_tensor(std::string_view type_proto, DeclaredValueType& type) {
  for (int level = 0; level < 64; ++level) {  // 64 levels: far beyond any real type, bounded
    if (auto tensor = find_wire_field(type_proto, kTypeTensor)) {
      auto elem = find_wire_field(tensor->bytes, 1);
      const DTypeTraits* traits = elem ? find_dtype_traits(int32_t(elem->varint)) : nullptr;
      type.elem_type = traits ? traits->dtype : DType::kUndefined;
      return true;
    }
    auto seq = find_wire_field(type_proto, kTypeSequence);
    if (!seq) return false;
    ++type.depth;
    auto inner = find_wire_field(seq->bytes, 1);
    if (!inner) return true;  // a sequence of an unspecified type
    type_proto = inner->bytes;
  }
  return false;
}

}  // namespace

std::optional<DeclaredValueType> declared_value_type(const ir::ValueInfo& info) {
  DeclaredValueType type;
  if (info.is_tensor) {
    type.elem_type = info.elem_type;
    return type;
  }
  std::string_view proto = info.opaque_type;
  if (auto opt = find_wire_field(proto, kTypeOptional)) {
    type.optional = true;
    auto inner = find_wire_field(opt->bytes, 1);
    if (!inner) return type;
    proto = inner->bytes;
  }
  if (!read_sequence_or_tensor(proto, type)) return std::nullopt;
  return type;
}

std::string declared_type_string(const DeclaredValueType& type) {
  std::string s = "tensor(" + (type.elem_type == DType::kUndefined ? std::string("?") : std::string(dtype_name(type.elem_type))) + ")";
  for (int d = 0; d < type.depth; ++d) s = "seq(" + s + ")";
  return type.optional ? "optional(" + s + ")" : s;
}

bool declares_optional(const ir::ValueInfo& info) {
  return !info.is_tensor && find_wire_field(info.opaque_type, kTypeOptional).has_value();
}

}  // namespace ember::runtime
