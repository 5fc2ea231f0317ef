// Fuzz target: the verifier plus the interpreter's load-time work on decoded models
// (integer rewrites, constant folding, which runs kernels on constants, planning and every
// kernel's prepare). Feeds are not run: that is what the kernel tests cover.
#include <cstddef>
#include <cstdint>

#include "formats/onnx_load.h"
#include "fuzz/fuzz_support.h"
#include "ir/verifier.h"
#include "runtime/interpreter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base_dir = [] {
    ember::fuzz::use_fuzzing_limits();
    return ember::fuzz::external_data_dir();
  }();
  auto model = ember::formats::load_onnx_from_bytes(data, size, base_dir, "fuzz.onnx");
  if (!model.ok()) return 0;
  ember::runtime::InterpreterOptions options;
  options.threads = 1;
  options.fuse_float = true;
  auto interp = ember::runtime::Interpreter::create(*model, options);
  (void)interp;
  return 0;
}
