// Fuzz target: the ONNX loader, external data included (locations resolve against
// $EMBER_FUZZ_BASE_DIR and must never leave it). Accepted models must verify.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "formats/onnx_load.h"
#include "fuzz/fuzz_support.h"
#include "ir/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base_dir = [] {
    ember::fuzz::use_fuzzing_limits();
    return ember::fuzz::external_data_dir();
  }();
  auto model = ember::formats::load_onnx_from_bytes(data, size, base_dir, "fuzz.onnx");
  if (model.ok() && !ember::ir::verify_model(*model).ok()) std::abort();  // the loader let a broken graph through
  if (!model.ok() && model.status().message().empty()) std::abort();      // errors must say something
  return 0;
}
