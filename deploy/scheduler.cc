#include "deploy/scheduler.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace ember::deploy {
namespace {

int64_t total_elements(const Feeds& feeds) {
  int64_t n = 0;
  for (const auto& [name, t] : feeds) n += t.numel();
  return n;
}

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

constexpr int kGeneralWorkerNice = 5;

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config, const ThermalConfig& thermal, std::vector<std::unique_ptr<Session>> workers,
                     Metrics& metrics)
    : config_(config), thermal_(thermal), metrics_(metrics), sessions_(std::move(workers)) {
  const int w = static_cast<int>(sessions_.size());
  if (config_.policy == "priority" && config_.urgent_reserved_share > 0 && w > 1)
    reserved_ = std::clamp(static_cast<int>(std::lround(w * config_.urgent_reserved_share)), 1, w - 1);
  for (size_t i = 0; i < sessions_.size(); ++i) threads_.emplace_back([this, i] { work(i); });
}

Scheduler::~Scheduler() { drain(); }

Submitted Scheduler::submit(Tier tier, Feeds feeds, std::chrono::milliseconds timeout) {
  Submitted s;
  auto r = std::make_unique<Request>();
  r->tier = tier;
  r->arrived = Clock::now();
  r->deadline = r->arrived + timeout;
  r->elements = total_elements(feeds);
  r->signature = batch_signature(feeds);
  r->feeds = std::move(feeds);
  s.result = r->promise.get_future();
  std::lock_guard lock(mutex_);
  if (!accepting_) {
    s.outcome = SubmitOutcome::kShuttingDown;
    metrics_.rejected(tier, "shutting_down");
    return s;
  }
  auto& q = queues_[int(tier)];
  if (static_cast<int>(q.size()) >= config_.queue_capacity[int(tier)]) {
    s.outcome = SubmitOutcome::kQueueFull;
    metrics_.rejected(tier, "queue_full");
    return s;
  }
  q.push_back(std::move(r));
  wake_for(tier);
  return s;
}

void Scheduler::wake_for(Tier tier) {
  general_ready_.notify_one();
  if (tier == Tier::kUrgent) reserved_ready_.notify_one();
  batch_grows_.notify_all();
}

void Scheduler::wake_everyone() {
  general_ready_.notify_all();
  reserved_ready_.notify_all();
  batch_grows_.notify_all();
}

void Scheduler::set_throttled(bool throttled) {
  std::lock_guard lock(mutex_);
  throttled_ = throttled;
  wake_everyone();
}

int Scheduler::active_limit() const {
  const int w = static_cast<int>(sessions_.size());
  if (!throttled_) return w;
  return std::max(1, static_cast<int>(std::lround(w * thermal_.throttled_worker_share)));
}

int Scheduler::pick_tier(size_t worker) const {
  const bool reserved = static_cast<int>(worker) < reserved_;
  if (config_.policy == "fifo") {  // the oldest request first, no reservation
    if (busy_ >= active_limit()) return -1;
    int best = -1;
    for (int t = 0; t < kTiers; ++t)
      if (!queues_[t].empty() && (best < 0 || queues_[t].front()->arrived < queues_[best].front()->arrived)) best = t;
    return best;
  }
  // Urgent work runs on any free worker, even past the thermal limit (it must still be served).
  if (!queues_[int(Tier::kUrgent)].empty()) return int(Tier::kUrgent);
  if (reserved || busy_ >= active_limit()) return -1;
  if (!queues_[int(Tier::kNormal)].empty()) return int(Tier::kNormal);
  if (!queues_[int(Tier::kLow)].empty() && (!throttled_ || stopping_)) return int(Tier::kLow);  // low is paused while hot
  return -1;
}

void Scheduler::expire_locked(Clock::time_point now) {
  for (auto& q : queues_) {
    for (auto it = q.begin(); it != q.end();) {
      if ((*it)->deadline > now) {
        ++it;
        continue;
      }
      InferResult r;
      r.timed_out = true;
      r.status = invalid_input("the request waited past its deadline in the " + std::string(tier_name((*it)->tier)) + " queue");
      r.queue_seconds = seconds_between((*it)->arrived, now);
      finish(**it, std::move(r));
      it = q.erase(it);
    }
  }
}

std::vector<Scheduler::RequestPtr> Scheduler::take_batch(std::unique_lock<std::mutex>& lock, int tier) {
  std::vector<RequestPtr> batch;
  auto& q = queues_[tier];
  batch.push_back(std::move(q.front()));
  q.pop_front();
  const Request& head = *batch.front();
  if (!batching_works_ || config_.max_batch <= 1 || head.elements > config_.short_request_max_elements) return batch;
  const int delay_us = throttled_ ? thermal_.throttled_queue_delay_us : config_.max_queue_delay_us;
  const Clock::time_point until = head.arrived + std::chrono::microseconds(delay_us);
  for (;;) {
    for (auto it = q.begin(); it != q.end() && static_cast<int>(batch.size()) < config_.max_batch;) {
      if ((*it)->signature == head.signature && (*it)->elements <= config_.short_request_max_elements) {
        batch.push_back(std::move(*it));
        it = q.erase(it);
      } else {
        ++it;
      }
    }
    if (static_cast<int>(batch.size()) >= config_.max_batch || stopping_ || Clock::now() >= until) return batch;
    batch_grows_.wait_until(lock, until);
  }
}

void Scheduler::finish(Request& r, InferResult result) {
  const double latency = seconds_between(r.arrived, Clock::now());
  metrics_.request_done(r.tier, latency, result.queue_seconds, result.timed_out ? "timeout" : result.status.ok() ? "ok" : "error");
  r.promise.set_value(std::move(result));
}

void Scheduler::run_batch(Session& session, std::vector<RequestPtr>& batch) {
  const auto started = Clock::now();
  auto answer = [&](Request& r, Result<std::vector<Tensor>> out, int size) {
    InferResult res;
    res.queue_seconds = seconds_between(r.arrived, started);
    res.batch_size = size;
    if (out.ok()) res.outputs = std::move(*out);
    else res.status = out.status();
    finish(r, std::move(res));
  };
  if (batch.size() > 1) {
    std::vector<const Feeds*> feeds;
    std::vector<int64_t> rows;
    for (const auto& r : batch) {
      feeds.push_back(&r->feeds);
      rows.push_back(batch_rows(r->feeds));
    }
    auto joined = concat_batch(feeds);
    auto out = joined.ok() ? session.run(*joined) : Result<std::vector<Tensor>>(joined.status());
    auto parts = out.ok() ? split_batch(*out, rows) : Result<std::vector<std::vector<Tensor>>>(out.status());
    if (parts.ok()) {
      metrics_.batch(static_cast<int>(batch.size()));
      for (size_t i = 0; i < batch.size(); ++i) answer(*batch[i], std::move((*parts)[i]), static_cast<int>(batch.size()));
      return;
    }
  }
  // One at a time: a single request, or a batch the model refused as a whole.
  bool all_ok = true;
  for (auto& r : batch) {
    auto out = session.run(r->feeds);
    all_ok = all_ok && out.ok();
    metrics_.batch(1);
    answer(*r, std::move(out), 1);
  }
  if (batch.size() > 1 && all_ok) {
    std::lock_guard lock(mutex_);
    batching_works_ = false;  // each ran alone but not together: the model fixes its batch size
  }
}

void Scheduler::work(size_t index) {
  Session& session = *sessions_[index];
  std::condition_variable& ready = static_cast<int>(index) < reserved_ ? reserved_ready_ : general_ready_;
  // The general workers yield the CPU to the reserved ones (and to the HTTP threads) when
  // cores are short. Raising one's own niceness needs no privilege.
  if (static_cast<int>(index) >= reserved_ && reserved_ > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kGeneralWorkerNice);
  std::unique_lock lock(mutex_);
  for (;;) {
    int tier = -1;
    for (;;) {
      expire_locked(Clock::now());
      tier = pick_tier(index);
      if (tier >= 0) break;
      const bool empty = std::all_of(queues_.begin(), queues_.end(), [](const auto& q) { return q.empty(); });
      if (stopping_ && empty) {
        wake_everyone();
        return;
      }
      if (empty) {
        ready.wait(lock);
      } else {
        Clock::time_point next = Clock::time_point::max();
        for (const auto& q : queues_)
          for (const auto& r : q) next = std::min(next, r->deadline);
        ready.wait_until(lock, next);
      }
    }
    ++busy_;
    auto batch = take_batch(lock, tier);
    lock.unlock();
    run_batch(session, batch);
    lock.lock();
    --busy_;
    // A freed slot matters to others only when work is queued (a throttled scheduler caps the
    // busy workers) or when draining; this worker looks at the queues itself next.
    if (stopping_) {
      wake_everyone();
    } else {
      for (int t = 0; t < kTiers; ++t)
        if (!queues_[t].empty()) wake_for(Tier(t));
    }
  }
}

bool Scheduler::queue_full(Tier tier) const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(queues_[int(tier)].size()) >= config_.queue_capacity[int(tier)];
}

SchedulerState Scheduler::state() const {
  std::lock_guard lock(mutex_);
  SchedulerState s;
  for (int t = 0; t < kTiers; ++t) s.queued[t] = static_cast<int>(queues_[t].size());
  s.workers = static_cast<int>(sessions_.size());
  s.reserved = reserved_;
  s.active = active_limit();
  s.busy = busy_;
  s.throttled = throttled_;
  s.accepting = accepting_;
  s.max_queue_delay_us = throttled_ ? thermal_.throttled_queue_delay_us : config_.max_queue_delay_us;
  return s;
}

void Scheduler::drain() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    stopping_ = true;
    wake_everyone();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

EnergyGauge Scheduler::energy() const {
  EnergyGauge g;
  std::lock_guard lock(mutex_);
  for (const auto& s : sessions_) {
    const EnergyReport r = s->energy();
    g.joules += r.joules;
    g.inferences += r.inferences;
    g.seconds += r.seconds;
    g.measured = r.measured;
    g.source = r.source;
  }
  return g;
}

}  // namespace ember::deploy
