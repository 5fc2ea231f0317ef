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

bool declares_optional(const ir::ValueInfo& info) {
  return !info.is_tensor && find_wire_field(info.opaque_type, kTypeOptional).has_value();
}

}  // namespace ember::runtime
