#include "ir/memory_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>

#include "ir/tensor.h"

namespace ember {
namespace {

uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t{8} << 30;
}

// cgroup v2's memory.max ("max" when unlimited); 0 when there is no limit to read.
uint64_t cgroup_memory_max() {
  std::ifstream in("/sys/fs/cgroup/memory.max");
  std::string text;
  if (!(in >> text) || text == "max") return 0;
  try {
    return std::stoull(text);
  } catch (...) {
    return 0;
  }
}

uint64_t rlimit_bytes(int resource) {
  struct rlimit limit {};
  if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return limit.rlim_cur;
}

std::atomic<uint64_t> g_live_bytes{0};

MemoryLimits& limits_storage() {
  static MemoryLimits limits = default_memory_limits();  // thread-safe first use
  return limits;
}

}  // namespace

MemoryLimits default_memory_limits() {
  uint64_t usable = physical_memory();
  for (uint64_t limit : {cgroup_memory_max(), rlimit_bytes(RLIMIT_AS), rlimit_bytes(RLIMIT_DATA)})
    if (limit > 0) usable = std::min(usable, limit);
  MemoryLimits limits;
  limits.max_tensor_bytes = usable / 2;
  limits.max_total_bytes = usable / 4 * 3;
  limits.max_loop_iterations = int64_t{1} << 24;
  limits.max_sequence_length = int64_t{1} << 20;
  return limits;
}

const MemoryLimits& memory_limits() { return limits_storage(); }

void set_memory_limits(const MemoryLimits& limits) { limits_storage() = limits; }

Result<uint64_t> checked_storage_bytes(DType dtype, const std::vector<int64_t>& shape) {
  uint64_t count = 1;
  bool empty = false;
  bool overflow = false;
  for (int64_t d : shape) {
    if (d < 0) return invalid_input("shape " + shape_to_string(shape) + " has a negative dimension");
    if (d == 0) empty = true;
    overflow = overflow || __builtin_mul_overflow(count, uint64_t(d == 0 ? 1 : d), &count);
  }
  if (empty) return uint64_t{0};
  const int bits = traits(dtype).bits;
  uint64_t total_bits = 0;
  if (overflow || count > uint64_t(INT64_MAX) || __builtin_mul_overflow(count, uint64_t(bits), &total_bits))
    return invalid_input("shape " + shape_to_string(shape) + " has more elements than memory can hold");
  return (total_bits + 7) / 8;
}

Status check_tensor_size(uint64_t bytes, const std::string& what) {
  const uint64_t cap = memory_limits().max_tensor_bytes;
  if (bytes > cap)
    return invalid_input(what + ": " + format_bytes(bytes) + " (" + std::to_string(bytes) +
                         " bytes) asked for one tensor, above the cap of " + format_bytes(cap) +
                         " (ember --max-tensor-memory)");
  return Status::Ok();
}

Status check_allocation(uint64_t bytes, const std::string& what) {
  EMBER_TRY(check_tensor_size(bytes, what));
  const MemoryLimits& limits = memory_limits();
  const uint64_t live = g_live_bytes.load(std::memory_order_relaxed);
  if (bytes > limits.max_total_bytes || live > limits.max_total_bytes - bytes)
    return invalid_input(what + ": " + format_bytes(bytes) + " (" + std::to_string(bytes) + " bytes) asked with " +
                         format_bytes(live) + " already in use, above the total cap of " +
                         format_bytes(limits.max_total_bytes) + " (ember --max-memory)");
  return Status::Ok();
}

Status check_output_shape(const std::string& where, DType dtype, const std::vector<int64_t>& shape) {
  Result<uint64_t> bytes = checked_storage_bytes(dtype, shape);
  if (!bytes.ok()) return bytes.status().with_context(where);
  return check_tensor_size(*bytes, where + ": the output " + shape_to_string(shape));
}

namespace {

// "<where>: <count> <unit> asked, above the cap of <cap> (ember <option>)".
Status check_count(int64_t count, int64_t cap, const std::string& where, const char* unit, const char* option) {
  if (count <= cap) return Status::Ok();
  return invalid_input(where + ": " + std::to_string(count) + " " + unit + " asked, above the cap of " + std::to_string(cap) +
                       " (ember " + option + ")");
}

}  // namespace

Status check_loop_iterations(int64_t count, const std::string& where) {
  return check_count(count, memory_limits().max_loop_iterations, where, "loop iterations", "--max-loop-iterations");
}

Status check_sequence_length(int64_t length, const std::string& where) {
  return check_count(length, memory_limits().max_sequence_length, where, "sequence steps", "--max-sequence-length");
}

void note_allocated(uint64_t bytes) { g_live_bytes.fetch_add(bytes, std::memory_order_relaxed); }
void note_released(uint64_t bytes) { g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed); }
uint64_t live_tensor_bytes() { return g_live_bytes.load(std::memory_order_relaxed); }

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  double value = double(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 6) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace ember
