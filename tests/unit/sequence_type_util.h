// A graph input or output declared as [an optional of] `depth` nested sequences of f32 tensors:
// the ValueInfo the ONNX loader makes for such a type (not a tensor, its TypeProto kept opaque).
#pragma once
#include <onnx/onnx_pb.h>

#include <string>

#include "ir/model.h"

namespace ember::test {

inline ir::ValueInfo sequence_value_info(const std::string& name, int depth, bool optional = false) {
  onnx::TypeProto type;
  onnx::TypeProto* t = optional ? type.mutable_optional_type()->mutable_elem_type() : &type;
  for (int d = 0; d < depth; ++d) t = t->mutable_sequence_type()->mutable_elem_type();
  t->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  ir::ValueInfo info;
  info.name = name;
  info.is_tensor = false;
  info.opaque_type = type.SerializeAsString();
  return info;
}

}  // namespace ember::test
