#include "runtime/grad/iteration_tape.h"

#include <algorithm>

#include "ir/memory_limits.h"

namespace ember::runtime::grad {
namespace {

uint64_t state_bytes(const std::vector<Value>& state) {
  uint64_t total = 0;
  for (const auto& t : state) total += t.nbytes();
  return total;
}

}  // namespace

void IterationTape::record(int64_t t, const std::vector<Value>& state) {
  if (t % stride_ != 0) return;
  checkpoints_[t] = state;
  bytes_ += state_bytes(state);
  while (bytes_ > budget_ && checkpoints_.size() > 1) {  // thin out: keep multiples of twice the stride
    stride_ *= 2;
    bytes_ = 0;
    for (auto it = checkpoints_.begin(); it != checkpoints_.end();) {
      if (it->first % stride_ != 0) {
        it = checkpoints_.erase(it);
      } else {
        bytes_ += state_bytes(it->second);
        ++it;
      }
    }
  }
}

Result<std::vector<Value>> IterationTape::state_before(int64_t t) {
  auto hit = checkpoints_.find(t);
  if (hit != checkpoints_.end()) return hit->second;
  auto seg = segment_.find(t);
  if (seg != segment_.end()) return seg->second;
  auto from = checkpoints_.upper_bound(t);
  if (from == checkpoints_.begin()) return internal_error("iteration tape: no checkpoint before iteration " + std::to_string(t));
  --from;
  segment_.clear();  // the previous segment is done with (walking backwards)
  std::vector<Value> state = from->second;
  for (int64_t u = from->first; u < t; ++u) {
    EMBER_ASSIGN_OR_RETURN(state, step_(u, state));
    ++recomputed_;
    segment_[u + 1] = state;
  }
  return state;
}

uint64_t default_tape_budget() {
  const uint64_t cap = uint64_t(256) << 20;
  const uint64_t total = memory_limits().max_total_bytes;
  return total ? std::min(cap, std::max<uint64_t>(total / 8, 1)) : cap;
}

}  // namespace ember::runtime::grad
