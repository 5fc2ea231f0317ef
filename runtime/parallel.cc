// A small fork-join thread pool behind parallel_for.
//
// Why not OpenMP: libgomp's idle workers spin for a long time before they sleep, and the
// policy is read once from the environment at load. On a shared 2-vCPU machine the spinning
// workers steal the time slices the working threads need: a GPT-2 forward ran 15x slower
// under load than with OMP_WAIT_POLICY=passive. Here an idle worker spins briefly (a region
// usually follows another within microseconds) and then sleeps on a futex (std::atomic::wait).
//
// Protocol: the caller publishes the job, bumps `generation_` and wakes the workers; worker i
// runs chunk i of [0, n) (the caller runs chunk 0) and decrements `pending_`; the caller waits
// for zero. Calls made from inside a job, or while another thread owns the pool, run inline.
#include "runtime/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EMBER_CPU_RELAX() _mm_pause()
#else
#define EMBER_CPU_RELAX() ((void)0)
#endif

namespace ember::runtime {
namespace {

// About 20-50 microseconds of pause instructions: long enough to catch back-to-back regions,
// short enough not to starve other processes.
constexpr int kSpinIterations = 2000;

thread_local bool t_inside_job = false;

// The cores this process may run on, asked once (parallel_for reads it on every call when no
// thread count was set).
int available_cores() {
  static const int cores = [] {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return cores;
}

template <typename T, typename Pred>
void spin_then_wait(const std::atomic<T>& value, Pred done) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (done(value.load(std::memory_order_acquire))) return;
    EMBER_CPU_RELAX();
  }
  for (T seen = value.load(std::memory_order_acquire); !done(seen); seen = value.load(std::memory_order_acquire))
    value.wait(seen, std::memory_order_acquire);
}

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~ThreadPool() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn on `chunks` (<= size()) chunks of [0, n); the calling thread takes chunk 0.
  void run(int64_t n, int chunks, const std::function<void(int64_t, int64_t)>& fn) {
    fn_ = &fn;
    n_ = n;
    chunks_ = chunks;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_chunk(0);
    spin_then_wait(pending_, [](int left) { return left == 0; });
  }

 private:
  void run_chunk(int index) {
    if (index >= chunks_) return;
    const int64_t begin = n_ * index / chunks_, end = n_ * (index + 1) / chunks_;
    if (begin >= end) return;
    t_inside_job = true;
    (*fn_)(begin, end);
    t_inside_job = false;
  }

  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      spin_then_wait(generation_, [seen](uint64_t g) { return g != seen; });
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      run_chunk(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
};

std::mutex g_pool_mutex;  // one parallel region at a time; guards g_pool and g_threads
std::unique_ptr<ThreadPool> g_pool;
std::atomic<int> g_threads{0};

}  // namespace

void set_num_threads(int threads) { g_threads.store(threads > 0 ? threads : available_cores()); }

int num_threads() {
  const int t = g_threads.load();
  return t > 0 ? t : available_cores();
}

void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), n / std::max<int64_t>(min_chunk, 1)));
  if (threads <= 1 || t_inside_job) {
    fn(0, n);
    return;
  }
  std::unique_lock lock(g_pool_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {  // another thread is running a region: do this one serially
    fn(0, n);
    return;
  }
  const int wanted = num_threads();
  if (!g_pool || g_pool->size() != wanted) {
    g_pool.reset();
    g_pool = std::make_unique<ThreadPool>(wanted);
  }
  g_pool->run(n, threads, fn);
}

}  // namespace ember::runtime
