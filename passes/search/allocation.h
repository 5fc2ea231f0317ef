// Choosing one option per item (one action per layer) under a hard limit: a multiple-choice
// knapsack solved exactly by dynamic programming over the cost.
// Before: items i with options a, each with an integer cost c_ia (bytes or bits) and a
//         predicted loss l_ia.
// After:  one option per item.
//   under_cost:  minimise sum l  subject to  sum c <= C
//   smallest:    minimise sum c  subject to  sum l <= L
// The DP: f_i(b) = min_a f_{i-1}(b - u_ia) + l_ia, f_{-1}(b) = 0, over b = 0..B units, with
//   u_ia = ceil((c_ia - min_a c_ia) / unit) and unit = ceil((C - sum_i min_a c_ia) / B_max).
// Costs are rounded up and the capacity down, so the real sum never exceeds C; with unit = 1
// (small cases) the answer is optimal. One DP gives f_n(b) for every b: the predicted front of
// loss against cost, which `smallest` reads and the reports plot.
#pragma once
#include <cstdint>
#include <vector>

#include "ir/status.h"

namespace ember::passes::search {

// Options per item at most (a pruned FFN's two layers form one item: precisions^2 x ratios).
constexpr size_t kMaxOptions = 4096;

struct Option {
  int64_t cost = 0;
  double loss = 0;
};

struct Allocation {
  std::vector<size_t> choice;  // per item, an index into its options
  int64_t cost = 0;            // exact sum of the chosen costs
  double loss = 0;
};

// Invalid input when even the cheapest option of every item exceeds `capacity` (the message
// gives that minimum).
Result<Allocation> allocate_under_cost(const std::vector<std::vector<Option>>& items, int64_t capacity,
                                       int64_t max_units = 8192);
// The cheapest allocation whose predicted loss is at most `loss_limit` (always feasible: the
// zero-loss options, when every item has one).
Result<Allocation> allocate_smallest(const std::vector<std::vector<Option>>& items, double loss_limit,
                                     int64_t max_units = 8192);

// The cost of the cheapest option of every item, summed.
int64_t minimum_cost(const std::vector<std::vector<Option>>& items);

}  // namespace ember::passes::search
