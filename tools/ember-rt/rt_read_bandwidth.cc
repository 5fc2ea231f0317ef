#include "tools/ember-rt/rt_read_bandwidth.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "runtime/parallel.h"

namespace ember::rt {
namespace {

// The read must not be the limit itself: 256-bit loads into four accumulators with software
// prefetch a few KB ahead, as the INT4 kernel streams (a scalar loop without prefetch reads at
// only 60-70% of the kernel's rate: bench_int4_gemv's note).
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* words, int64_t begin, int64_t end) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  const auto* p = reinterpret_cast<const __m256i*>(words);
  for (int64_t i = begin; i < end; ++i) {  // i counts 128-byte steps
    __builtin_prefetch(reinterpret_cast<const char*>(p + 4 * i) + 8192);
    __builtin_prefetch(reinterpret_cast<const char*>(p + 4 * i) + 8192 + 64);
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_add_epi64(acc[j], _mm256_loadu_si256(p + 4 * i + j));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_scalar(const uint64_t* words, int64_t begin, int64_t end) {
  uint64_t acc[8] = {};
  for (int64_t i = begin * 16; i < end * 16; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += words[i + l];
  uint64_t total = 0;
  for (uint64_t a : acc) total += a;
  return total;
}

}  // namespace

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
  static const bool avx2 = __builtin_cpu_supports("avx2");
  const auto sum = avx2 ? &sum_avx2 : &sum_scalar;
  std::atomic<uint64_t> sink{0};
  std::vector<double> gbps;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    runtime::parallel_for(n / 16, 1 << 12, [&](int64_t b, int64_t e) { sink += sum(words, b, e); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    gbps.push_back(double(bytes) / s / 1e9);
  }
  munmap(raw, bytes);
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2] + double(sink.load() & 0);  // the sink keeps the sums alive
}

}  // namespace ember::rt
