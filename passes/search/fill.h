// The fill step of a search without a target: after progressive verification, the verified
// model may sit under the budget with slack left (a bisection reverts whole layers to the
// previous stage's larger actions). The fill spends that slack on the cheapest predicted moves
// from the verified state: each item may only move to an option no larger than its current one
// (the search offers only its precisions, keeping the verified prune ratios: search_fill.cc).
// Before: items with options (cost c_ia, predicted loss l_ia), the verified choice a*_i, and an
//         allowance A of predicted loss.
// After:  min sum_i c_ia  subject to  sum_i l_ia <= sum_i l_ia*_i + A  and  c_ia <= c_ia*_i,
//         solved by the allocation's DP over the restricted options (allocation.h). With A = 0
//         the verified choice itself (or one as cheap and no worse) comes back.
// The search measures the result like any candidate and keeps the best model it has.
#pragma once
#include <vector>

#include "ir/status.h"
#include "passes/search/allocation.h"

namespace ember::passes::search {

// `current[i]` indexes items[i]; the answer's choice indexes items[i] too.
Result<Allocation> fill_cheaper(const std::vector<std::vector<Option>>& items, const std::vector<size_t>& current,
                                double allowance, int64_t max_units = 8192);

// The predicted loss that the measured slack allows: the slack over the verified state's
// metric per predicted loss (its measured damage over its predicted loss, or the calibrated
// `metric_per_loss` when that is larger or the state measured no damage), times `share` (< 1:
// room for the prediction's error). Zero when there is no slack.
double fill_allowance(double slack, double measured_damage, double predicted_loss, double metric_per_loss, double share);

}  // namespace ember::passes::search
