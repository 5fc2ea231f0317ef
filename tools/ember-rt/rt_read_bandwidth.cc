#include "tools/ember-rt/rt_read_bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "runtime/parallel.h"

namespace ember::rt {

double measure_read_gbps(size_t bytes, int reps) {
  bytes = std::max(bytes, size_t{256} << 20) / 64 * 64;
  void* raw = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return 0;
  madvise(raw, bytes, MADV_HUGEPAGE);  // as the weight arena does
  auto* words = static_cast<uint64_t*>(raw);
  const int64_t n = int64_t(bytes / 8);
  runtime::parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) words[i] = uint64_t(i);
  });
  std::atomic<uint64_t> sink{0};
  std::vector<double> gbps;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    runtime::parallel_for(n / 8, 1 << 13, [&](int64_t b, int64_t e) {
      // Eight independent lanes, so the loads and not an add chain set the pace.
      uint64_t acc[8] = {};
      for (int64_t i = b; i < e; ++i)
        for (int l = 0; l < 8; ++l) acc[l] += words[i * 8 + l];
      uint64_t total = 0;
      for (uint64_t a : acc) total += a;
      sink += total;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    gbps.push_back(double(bytes) / s / 1e9);
  }
  munmap(raw, bytes);
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2] + double(sink.load() & 0);  // the sink keeps the sums alive
}

}  // namespace ember::rt
