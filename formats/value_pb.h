// .pb files of the ONNX test data that hold a value of any kind: a TensorProto for a tensor,
// a SequenceProto or an OptionalProto (onnx-data.proto) for a sequence or an optional. The
// declared type of the graph input or output says which (ir::ValueInfo::opaque_type).
#pragma once
#include <string>

#include "ir/model.h"
#include "ir/value.h"

namespace ember::formats {

// Sequences of tensors and optionals of a tensor or of such a sequence; maps, sparse tensors
// and nested sequences are unsupported errors naming the file.
Result<Value> read_value_pb(const std::string& path, const ir::ValueInfo& declared);

}  // namespace ember::formats
