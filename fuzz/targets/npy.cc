// Fuzz target: the .npy reader. An accepted array's bytes must match its dtype and shape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "formats/npy.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limited = (ember::fuzz::use_fuzzing_limits(), true);
  (void)limited;
  auto tensor = ember::formats::parse_npy(data, size, "fuzz.npy");
  if (tensor.ok() && tensor->nbytes() != ember::storage_bytes(tensor->dtype(), tensor->numel())) std::abort();
  if (tensor.ok()) {  // what was read must write back
    auto bytes = ember::formats::npy_bytes(*tensor);
    if (!bytes.ok()) std::abort();
  }
  return 0;
}
