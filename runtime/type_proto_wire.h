// Reads the few facts the runtime needs from serialized TypeProtos (ir::ValueInfo::opaque_type,
// Optional's `type` attribute) straight from the protobuf wire format: the runtime does not
// link protobuf (formats/ does), and these are three nested fields deep at most.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ir/model.h"

namespace ember::runtime {

// One field of a message: its bytes (length-delimited) or its value (varint).
struct WireField {
  std::string_view bytes;
  uint64_t varint = 0;
};

// The first field `number` of `message`; nullopt when absent or the bytes are malformed.
std::optional<WireField> find_wire_field(std::string_view message, uint64_t number);

// TypeProto field numbers (onnx.proto).
inline constexpr uint64_t kTypeTensor = 1, kTypeSequence = 4, kTypeOptional = 9;

// Whether `info` is declared as an optional (TypeProto.optional_type).
bool declares_optional(const ir::ValueInfo& info);

// A non-tensor declared type as Ember runs it: [optional of] a sequence of `depth` levels (0: a
// tensor) with innermost tensors of `elem_type` (kUndefined when the type leaves it open).
struct DeclaredValueType {
  bool optional = false;
  int depth = 0;
  DType elem_type = DType::kUndefined;
};
// nullopt for a type Ember does not run (a map, a sparse tensor, an optional of an optional)
// or malformed bytes.
std::optional<DeclaredValueType> declared_value_type(const ir::ValueInfo& info);
// "seq(seq(tensor(f32)))", "optional(tensor(i64))"; "tensor(?)"-like "?" for an open type.
std::string declared_type_string(const DeclaredValueType& type);

}  // namespace ember::runtime
