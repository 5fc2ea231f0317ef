// The machine's read bandwidth, measured inside `ember-rt bench` (--read-bandwidth) so that a
// decode step's weight traffic is compared with what the same machine delivered in the same
// run (the VM's bandwidth varies by tens of percent from one window to the next).
#pragma once
#include <cstddef>

namespace ember::rt {

// Median GB/s of summing a `bytes`-long buffer (raised to at least 256 MB, beyond the L3) on
// the interpreter's threads, split into one contiguous chunk per thread like the kernels do.
double measure_read_gbps(size_t bytes, int reps = 7);

}  // namespace ember::rt
