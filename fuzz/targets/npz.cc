// Fuzz target: the .npz reader (zip parsing by libzip, streaming inflation bounded by the
// recorded sizes, the .npy header of every member).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "formats/npz.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limited = (ember::fuzz::use_fuzzing_limits(), true);
  (void)limited;
  auto arrays = ember::formats::parse_npz(data, size, "fuzz.npz");
  if (arrays.ok())
    for (const auto& [name, tensor] : *arrays)
      if (tensor.nbytes() != ember::storage_bytes(tensor.dtype(), tensor.numel())) std::abort();
  return 0;
}
