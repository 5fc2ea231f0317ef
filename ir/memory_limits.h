// Resource limits for everything whose size a model or an input file controls: one tensor's
// bytes, the total of live tensor storage, Loop iterations and sequence lengths (the steps of
// Scan and RNN/GRU/LSTM). A hostile Expand to [1e6, 1e6] must end as "node 'x' (Expand):
// 4 TB asked, the cap is 12 GB", never as a segfault, an OOM kill or std::bad_alloc reaching
// the user.
//
// Tensor::zeros and the interpreter's pool check every allocation here. Refusals surface as
// AllocationRefused (a std::bad_alloc): kernels allocate through a Tensor&-returning call,
// so the refusal unwinds to the one place that runs kernels (runtime/kernel_guard.h), which
// turns it into invalid_input naming the node. Code outside kernels that sizes a buffer from
// input checks first with check_allocation and returns the Status itself.
#pragma once
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/status.h"

namespace ember {

struct MemoryLimits {
  uint64_t max_tensor_bytes = 0;     // one tensor's storage
  uint64_t max_total_bytes = 0;      // all live tensor storage together
  int64_t max_loop_iterations = 0;   // iterations of one Loop node execution
  int64_t max_sequence_length = 0;   // steps of one Scan or RNN/GRU/LSTM execution
};

// Derived from the machine: the memory this process may use is the smallest of physical
// memory, the cgroup's memory.max and RLIMIT_AS / RLIMIT_DATA. One tensor may take half of
// it, all tensors three quarters; Loops 2^24 iterations, sequences 2^20 steps.
MemoryLimits default_memory_limits();

// Process-wide, like the thread count; set once by a CLI before work starts (not while
// other threads allocate).
const MemoryLimits& memory_limits();
void set_memory_limits(const MemoryLimits& limits);

class AllocationRefused : public std::bad_alloc {
 public:
  explicit AllocationRefused(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Bytes of `dtype` storage for `shape`; invalid_input on a negative dimension or overflow.
Result<uint64_t> checked_storage_bytes(DType dtype, const std::vector<int64_t>& shape);

// ok when `bytes` more fit under both caps; otherwise invalid_input "<what>: ... asked ...".
Status check_allocation(uint64_t bytes, const std::string& what);
// Only the one-tensor cap (for storage that may come from a pool's free list).
Status check_tensor_size(uint64_t bytes, const std::string& what);

// The accounting behind max_total_bytes: storage handed out minus storage returned.
void note_allocated(uint64_t bytes);
void note_released(uint64_t bytes);
uint64_t live_tensor_bytes();

// A shape an op is about to create, checked before any work sized by it (index tables, loops
// over its elements): invalid_input "<where>: the output [..] needs 4.0 TB (...) for one
// tensor, above the cap ...". The allocation itself is checked again when it happens.
Status check_output_shape(const std::string& where, DType dtype, const std::vector<int64_t>& shape);

// The iteration caps: a Loop's trip count (or iterations while its condition stays true), and
// the steps of a sequence (Scan's scanned axis, an RNN/GRU/LSTM's sequence length). A breach
// is invalid_input naming `where` (the node) and the count asked.
Status check_loop_iterations(int64_t count, const std::string& where);
Status check_sequence_length(int64_t length, const std::string& where);

// "12.0 GB": sizes in messages.
std::string format_bytes(uint64_t bytes);

}  // namespace ember
