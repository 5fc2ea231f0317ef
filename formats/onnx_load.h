// Reads an ONNX model into ir::Model. The file is mapped, parsed once, and every initializer's
// bytes end up held exactly once (moved out of the parsed proto, or viewed in a mapped
// external-data file). Everything Ember does not model survives as opaque protobuf bytes.
// Any malformed input is an invalid_input (or unsupported) Status naming the file; the loader
// is fuzzed with truncated and bit-flipped models, so it never trusts a size or a depth.
#pragma once
#include <cstddef>
#include <string>

#include "ir/model.h"

namespace ember::formats {

Result<ir::Model> load_onnx(const std::string& path);

// `base_dir_for_external_data` resolves relative external-data locations ("" = working
// directory); `display_name` names the model in error messages.
Result<ir::Model> load_onnx_from_bytes(const void* data, size_t size, const std::string& base_dir_for_external_data,
                                      const std::string& display_name);

}  // namespace ember::formats
