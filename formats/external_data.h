// ONNX external data (TensorProto.data_location = EXTERNAL): tensor bytes that live in a file
// beside the model, addressed by the "location", "offset" and "length" entries. Each file is
// mapped once and tensors view into the mapping, which their shared owner keeps alive.
#pragma once
#include <map>
#include <memory>
#include <string>

#include <onnx/onnx_pb.h>

#include "formats/mapped_file.h"
#include "ir/tensor.h"

namespace ember::formats {

class ExternalDataReader {
 public:
  // Locations are resolved against `base_dir` ("" means the working directory) and must stay
  // inside it: no "..", no absolute path, no symlink leading out, only regular files.
  explicit ExternalDataReader(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  // A tensor of `dtype` and `shape` whose `nbytes` bytes the proto's external entries point to.
  // Missing files, locations outside base_dir and ranges past the end of the file are
  // invalid_input naming the tensor and the location.
  Result<Tensor> read(const onnx::TensorProto& proto, DType dtype, Shape shape, size_t nbytes);

 private:
  Result<std::shared_ptr<MappedFile>> mapped(const std::string& location, const std::string& what);

  std::string base_dir_;
  std::map<std::string, std::shared_ptr<MappedFile>> files_;
};

}  // namespace ember::formats
