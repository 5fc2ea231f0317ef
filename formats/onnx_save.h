// Writes ir::Model as ONNX, the lossless inverse of load_onnx. The main graph's weights are
// streamed from tensor memory into the file (never copied into a protobuf message), so saving
// does not double the model's memory. Output is deterministic and written atomically.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "formats/external_data_writer.h"
#include "ir/model.h"

namespace ember::formats {

struct SaveOptions {
  // Put the main graph's initializers of at least `external_threshold` bytes in one file
  // beside the model (ONNX external data), each at a 64-byte aligned offset.
  bool external_data = false;
  std::string external_data_name;  // relative to the model's directory; default "<model file name>.data"
  size_t external_threshold = 1024;
  // A single protobuf cannot exceed 2 GB: above this many initializer bytes, external data is
  // used even when not asked for.
  size_t auto_external_above = (size_t{2} << 30) - (size_t{256} << 20);
  // External data of at least this many bytes is written with O_DIRECT (atomic_file.h).
  size_t direct_write_above = size_t{64} << 20;
  // The external data already being written while the passes ran (start_external_data):
  // implies external_data; the tensors it was handed keep their offsets, the rest is appended.
  ExternalDataWriter* data_writer = nullptr;
};

// A writer of the external data that save_onnx(model_path, options with data_writer) will
// finish: passes hand it finished initializers while they run (external_data_writer.h).
Result<std::unique_ptr<ExternalDataWriter>> start_external_data(const std::string& model_path, const SaveOptions& options);

// An unwritable path is invalid_input naming it; on any error no partial file is left behind.
// When external data is used, its file is written (atomically) before the model.
Status save_onnx(const ir::Model& model, const std::string& path, const SaveOptions& options = {});

// The model as ONNX bytes in memory, all weights inline.
Result<std::string> serialize_onnx(const ir::Model& model);

}  // namespace ember::formats
