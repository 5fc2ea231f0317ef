// The request scheduler behind `ember-rt serve`.
//   - Three bounded queues (urgent, normal, low); a full queue rejects at once (HTTP 429).
//   - W workers, each with its own Session (one intra-op thread each). R = the reserved share
//     of W (at least 1 when the share is > 0, at most W - 1) take urgent work only; the other
//     W - R take urgent work first, then normal, then low, and run at a higher niceness so
//     the reserved workers win the CPU when cores are short.
//   - Dynamic batching: a worker that takes a short request (at most short_request_max_elements
//     input elements) gathers compatible requests of the same tier, up to max_batch, waiting at
//     most max_queue_delay_us from the oldest one's arrival (Triton's max_queue_delay), and runs
//     them as one inference.
//   - Per-request deadlines: a request still queued at its deadline is answered "timeout".
//   - Thermal gating (set_throttled): fewer busy workers (throttled_worker_share of W, at least
//     1; urgent work may still start), the longer batching window, and the low tier paused
//     (still queued, not run).
//   - Idle workers sleep on a condition variable: no polling while there is no work. A new
//     request wakes one general worker (and one reserved worker when it is urgent) and the
//     workers gathering a batch, not every thread: each futile wake-up is two context switches,
//     which at thousands of short requests a second cost more than the inferences.
//   - drain(): stop accepting, finish everything queued, join the workers.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "deploy/batching.h"
#include "deploy/deployment_config.h"
#include "deploy/metrics.h"
#include "deploy/session.h"

namespace ember::deploy {

using Clock = std::chrono::steady_clock;

struct InferResult {
  Status status;                 // ok, or why the request failed
  bool timed_out = false;
  std::vector<Tensor> outputs;
  double queue_seconds = 0;
  int batch_size = 0;
};

enum class SubmitOutcome { kQueued, kQueueFull, kShuttingDown };

struct Submitted {
  SubmitOutcome outcome = SubmitOutcome::kQueued;
  std::future<InferResult> result;
};

struct SchedulerState {
  std::array<int, kTiers> queued{};
  int workers = 0, reserved = 0, active = 0, busy = 0;
  bool throttled = false, accepting = true;
  int max_queue_delay_us = 0;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, const ThermalConfig& thermal, std::vector<std::unique_ptr<Session>> workers, Metrics& metrics);
  ~Scheduler();
  Submitted submit(Tier tier, Feeds feeds, std::chrono::milliseconds timeout);
  void set_throttled(bool throttled);
  SchedulerState state() const;
  // Whether submit() would reject this tier now (a cheap early check; submit decides).
  bool queue_full(Tier tier) const;
  // Stops accepting, runs everything queued, joins the workers. Idempotent.
  void drain();
  EnergyGauge energy() const;

 private:
  struct Request {
    Tier tier;
    Feeds feeds;
    Clock::time_point arrived, deadline;
    std::promise<InferResult> promise;
    int64_t elements = 0;
    std::string signature;
  };
  using RequestPtr = std::unique_ptr<Request>;

  void work(size_t index);
  // Under the lock: the tier worker `worker` may take now, or -1.
  int pick_tier(size_t worker) const;
  int active_limit() const;
  std::vector<RequestPtr> take_batch(std::unique_lock<std::mutex>& lock, int tier);
  void expire_locked(Clock::time_point now);
  void run_batch(Session& session, std::vector<RequestPtr>& batch);
  void finish(Request& r, InferResult result);
  // Under the lock: wakes who may take a request of `tier`, and the batch gatherers.
  void wake_for(Tier tier);
  void wake_everyone();

  SchedulerConfig config_;
  ThermalConfig thermal_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::condition_variable general_ready_;   // idle general workers wait here
  std::condition_variable reserved_ready_;  // idle reserved (urgent-only) workers
  std::condition_variable batch_grows_;     // workers gathering a batch
  std::array<std::deque<RequestPtr>, kTiers> queues_;
  int reserved_ = 0;
  int busy_ = 0;
  bool throttled_ = false, accepting_ = true, stopping_ = false;
  bool batching_works_ = true;  // false once the model refused a batch (fixed batch size)
};

}  // namespace ember::deploy
