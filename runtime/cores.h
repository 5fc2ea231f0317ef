// How many threads this process may usefully run: the cores it may run on. parallel.h's
// set_num_threads clamps to it (a flag or manifest asking for 100000 threads must not exhaust
// the process); a CLI uses effective_threads to tell the user about the clamp.
#pragma once

namespace ember::runtime {

int available_cores();                   // sched_getaffinity, else hardware_concurrency
int effective_threads(int requested);    // <= 0: all cores; else min(requested, cores)

}  // namespace ember::runtime
