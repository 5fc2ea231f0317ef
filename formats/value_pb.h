// .pb files of the ONNX test data that hold a value of any kind: a TensorProto for a tensor,
// a SequenceProto or an OptionalProto (onnx-data.proto) for a sequence or an optional. The
// declared type of the graph input or output says which (ir::ValueInfo::opaque_type).
#pragma once
#include <string>

#include "ir/model.h"
#include "ir/value.h"

namespace ember::formats {

// Sequences of tensors, nested sequences (sequence(sequence(...)), up to kMaxSequenceDepth
// levels), and optionals of a tensor or of such a sequence. Maps, sparse tensors and
// optionals of optionals are unsupported errors naming the file; a sequence longer than
// --max-sequence-length (ir/memory_limits.h) is invalid_input naming the file.
Result<Value> read_value_pb(const std::string& path, const ir::ValueInfo& declared);

// The value as a TensorProto, SequenceProto or OptionalProto named `name` (what
// read_value_pb reads back), serialized deterministically and written atomically.
Status write_value_pb(const std::string& path, const std::string& name, const Value& value);

inline constexpr int kMaxSequenceDepth = 32;

}  // namespace ember::formats
