// The carried state before each iteration of a Loop or Scan (tensors, or a Loop's sequences),
// for a backward pass that walks the iterations in reverse. The forward replay records state_t for t = 0, 1, ...; states are
// kept while their bytes fit the budget. Past it the tape thins out: the stride doubles and
// only states at multiples of it stay (checkpoints), so memory stays near the budget whatever
// the iteration count. Walking back, the state of a dropped iteration is recomputed from the
// checkpoint before it, one segment at a time (at most stride - 1 extra body runs per
// segment: about one more forward pass in all).
//   before: store T states (T x state bytes)   after: <= budget + one segment of states
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "ir/value.h"

namespace ember::runtime::grad {

class IterationTape {
 public:
  // state_{t+1} from state_t: one run of the body.
  using Step = std::function<Result<std::vector<Value>>(int64_t t, const std::vector<Value>& state)>;

  IterationTape(uint64_t budget_bytes, Step step) : budget_(budget_bytes), step_(std::move(step)) {}

  // The state before iteration t; called for t = 0, 1, 2, ... in order.
  void record(int64_t t, const std::vector<Value>& state);
  // The state before iteration t, for t descending (any order works, ascending recomputes more).
  Result<std::vector<Value>> state_before(int64_t t);

  int64_t stride() const { return stride_; }
  int64_t recomputed_steps() const { return recomputed_; }
  uint64_t stored_bytes() const { return bytes_; }

 private:
  uint64_t budget_;
  Step step_;
  int64_t stride_ = 1;
  uint64_t bytes_ = 0;
  int64_t recomputed_ = 0;
  std::map<int64_t, std::vector<Value>> checkpoints_;  // at multiples of stride_
  std::map<int64_t, std::vector<Value>> segment_;      // recomputed states of one segment
};

// The default budget: 256 MB, or an eighth of the memory tensors may use when that is less.
uint64_t default_tape_budget();

}  // namespace ember::runtime::grad
