// Shared by the fuzz targets: the memory limits they run under (small, so a hostile shape is
// refused quickly instead of paging), and the directory external data resolves against.
#pragma once
#include <cstdlib>
#include <string>

#include "ir/memory_limits.h"

namespace ember::fuzz {

// 64 MB per tensor, 256 MB in all: far above what the seeds need, far below libFuzzer's
// -rss_limit_mb, so a refused allocation is an error path and never an OOM report.
inline void use_fuzzing_limits() {
  MemoryLimits limits = default_memory_limits();
  limits.max_tensor_bytes = uint64_t{64} << 20;
  limits.max_total_bytes = uint64_t{256} << 20;
  limits.max_loop_iterations = 1 << 12;
  limits.max_sequence_length = 1 << 12;
  set_memory_limits(limits);
}

// Where the ONNX targets resolve external data: $EMBER_FUZZ_BASE_DIR (the seed maker puts a
// model's .data file there), else the working directory.
inline std::string external_data_dir() {
  const char* dir = std::getenv("EMBER_FUZZ_BASE_DIR");
  return dir ? dir : "";
}

}  // namespace ember::fuzz
