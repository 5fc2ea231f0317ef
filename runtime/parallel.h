// Threading: a thin layer over OpenMP so kernels say what to split, not how.
// The thread count is process-wide (the interpreter sets it from --threads).
#pragma once
#include <cstdint>
#include <functional>

namespace ember::runtime {

void set_num_threads(int threads);  // <= 0: all cores; more than the cores: clamped (cores.h)
int num_threads();

// Calls fn(begin, end) on disjoint chunks of [0, n). Runs inline when n is small
// (n < min_chunk * 2) or when one thread is configured.
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ember::runtime
