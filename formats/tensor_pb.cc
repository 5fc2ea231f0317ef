#include "formats/tensor_pb.h"

#include <climits>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include "formats/atomic_file.h"
#include "formats/mapped_file.h"
#include "formats/tensor_proto.h"

namespace ember::formats {

Result<NamedTensor> read_tensor_pb(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, map_file(path));
  if (file->size() > static_cast<size_t>(INT_MAX)) return unsupported(path + ": a TensorProto file cannot exceed 2 GB");
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(file->data(), static_cast<int>(file->size())))
    return invalid_input(path + ": not a valid TensorProto (the protobuf data is malformed or truncated)");
  ExternalDataReader external(parent_directory(path));
  NamedTensor out;
  out.name = proto.name();
  auto tensor = tensor_from_proto(proto, &external);
  if (!tensor.ok()) return tensor.status().with_context(path);
  out.tensor = std::move(tensor).value();
  return out;
}

Status write_tensor_pb(const std::string& path, const std::string& name, const Tensor& tensor) {
  onnx::TensorProto proto;
  EMBER_TRY(tensor_to_proto(tensor, name, &proto).with_context("cannot write '" + path + "'"));
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!proto.SerializeToCodedStream(&coded)) return internal_error("cannot serialize tensor '" + name + "'");
  }
  return write_string_atomic(path, bytes);
}

}  // namespace ember::formats
