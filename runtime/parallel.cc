// A small fork-join thread pool behind parallel_for.
//
// Why not OpenMP: libgomp's idle workers spin for a long time before they sleep, and the
// policy is read once from the environment at load. On a shared 2-vCPU machine the spinning
// workers steal the time slices the working threads need: a GPT-2 forward ran 15x slower
// under load than with OMP_WAIT_POLICY=passive. Here an idle worker spins briefly (a region
// usually follows another within microseconds) and then sleeps on a futex (std::atomic::wait).
//
// Protocol: the caller publishes the job, bumps `generation_` and wakes the workers; then
// everyone, the caller included, claims chunks of [0, n) one at a time until none is left, and
// the caller waits until every chunk is done. Chunk c always covers the same range, so results
// do not depend on who runs it; a worker the VM has not scheduled yet (a shared 2-vCPU machine
// often delays one for milliseconds) costs nothing, since the caller takes its chunks instead of
// waiting for it. A claim is a compare-and-swap on one word holding (job, chunks, next chunk),
// so a late worker can never claim a chunk of a newer job: it reads the job's function only
// after a successful claim, and the caller publishes the next job only when every claimed chunk
// is done. Calls made from inside a job, or while another thread owns the pool, run inline.
#include "runtime/parallel.h"
#include "runtime/cores.h"

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
constexpr int kChunksPerThread = 4;

thread_local bool t_inside_job = false;

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
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn on `chunks` (< 2^16) chunks of [0, n).
  void run(int64_t n, int chunks, const std::function<void(int64_t, int64_t)>& fn) {
    fn_ = &fn;
    n_ = n;
    done_.store(0, std::memory_order_relaxed);
    ++job_;
    state_.store(pack(job_, chunks, 0), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    claim_and_run();
    spin_then_wait(done_, [chunks](int done) { return done == chunks; });
  }

 private:
  // state_ = job << 32 | chunks << 16 | next unclaimed chunk (chunks < 2^16).
  static uint64_t pack(uint64_t job, int chunks, int next) {
    return (job << 32) | (uint64_t(chunks) << 16) | uint64_t(next);
  }

  // Claims and runs chunks of the job current at the first look until none is left.
  void claim_and_run() {
    uint64_t s = state_.load(std::memory_order_acquire);
    const uint64_t job = s >> 32;
    for (;;) {
      const int chunks = int((s >> 16) & 0xffff), next = int(s & 0xffff);
      if ((s >> 32) != job || next >= chunks) return;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      const int64_t begin = n_ * next / chunks, end = n_ * (next + 1) / chunks;
      if (begin < end) {
        t_inside_job = true;
        (*fn_)(begin, end);
        t_inside_job = false;
      }
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done_.notify_one();
      s = state_.load(std::memory_order_acquire);
    }
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      spin_then_wait(generation_, [seen](uint64_t g) { return g != seen; });
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      claim_and_run();
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  uint64_t job_ = 0;  // the caller's count of jobs published
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace

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

namespace {

std::mutex g_pool_mutex;  // one parallel region at a time; guards g_pool and g_threads
std::unique_ptr<ThreadPool> g_pool;
std::atomic<int> g_threads{0};

}  // namespace

int effective_threads(int requested) {
  return requested > 0 ? std::min(requested, available_cores()) : available_cores();
}

void set_num_threads(int threads) { g_threads.store(effective_threads(threads)); }

int num_threads() {
  const int t = g_threads.load();
  return t > 0 ? t : available_cores();
}

void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t most_chunks = n / std::max<int64_t>(min_chunk, 1);
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), most_chunks));
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
  // kChunksPerThread chunks per thread (as n allows): when one thread starts late or runs
  // slow, the others take its remaining chunks.
  g_pool->run(n, static_cast<int>(std::min<int64_t>(int64_t{threads} * kChunksPerThread, most_chunks)), fn);
}

}  // namespace ember::runtime
