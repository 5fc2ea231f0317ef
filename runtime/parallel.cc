#include "runtime/parallel.h"

#include <omp.h>

#include <algorithm>

namespace ember::runtime {
namespace {
int g_threads = 0;
}

void set_num_threads(int threads) {
  g_threads = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(g_threads);
}

int num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), n / std::max<int64_t>(min_chunk, 1)));
  if (threads <= 1) {
    fn(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t count = omp_get_num_threads();
    const int64_t begin = n * t / count;
    const int64_t end = n * (t + 1) / count;
    if (begin < end) fn(begin, end);
  }
}

}  // namespace ember::runtime
