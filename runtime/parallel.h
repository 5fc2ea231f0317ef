// Threading: a thin layer over OpenMP so kernels say what to split, not how.
// The thread count is process-wide (the interpreter sets it from --threads).
#pragma once
#include <cstdint>
#include <functional>

namespace ember::runtime {

// <= 0: all cores. More threads than the cores this process may run on are clamped to them
// (a manifest or flag asking for 100000 threads must not exhaust the process); returns the
// count in effect, so a CLI can note the clamp.
int set_num_threads(int threads);
int num_threads();
int available_cores();  // sched_getaffinity, else hardware_concurrency

// Calls fn(begin, end) on disjoint chunks of [0, n). Runs inline when n is small
// (n < min_chunk * 2) or when one thread is configured.
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ember::runtime
