// Single-tensor .pb files: a serialized ONNX TensorProto, as in the ONNX test data
// (test_data_set_0/input_0.pb). The tensor's name says which graph input it feeds.
#pragma once
#include <string>

#include "ir/tensor.h"

namespace ember::formats {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// External data, if any, is resolved relative to the file's directory.
Result<NamedTensor> read_tensor_pb(const std::string& path);
// Written atomically, with the bytes in raw_data (string_data for strings).
Status write_tensor_pb(const std::string& path, const std::string& name, const Tensor& tensor);

}  // namespace ember::formats
