// Which units of one layer to remove when the consumer is refitted afterwards (select=obs):
// structured Optimal Brain Surgeon, greedily one unit at a time (as ZipLM / SlimGPT do).
// Before: the layer's count comes from the scores (or the joint budget), and the units with the
//         lowest scores go: a score measures the loss of removing a unit as it is, not what the
//         refit cannot restore.
// After:  the same count per layer, the units chosen by the error the least squares refit
//         leaves. The consumer y = W x (W [M, N], x in R^N with covariance Sigma, ridge-damped
//         H = Sigma + lambda I). Removing the channels C of a unit and refitting the others
//         (recovery.h's lsq) raises E||y - y'||^2 by
//           cost(C) = tr( W_C (Hinv_CC)^-1 W_C^T ),   Hinv = H^-1,
//         and leaves the refitted weights and inverse
//           W    <- W - W_C (Hinv_CC)^-1 Hinv_C:,
//           Hinv <- Hinv - Hinv_:C (Hinv_CC)^-1 Hinv_C:,
//         so each step takes the cheapest unit given those already removed. A unit is one channel
//         (an FFN neuron) or a head's d channels; ties go to the lowest index (deterministic).
#pragma once
#include <cstdint>
#include <vector>

#include "ir/status.h"

namespace ember::passes::prune {

// `weight` canonical [M, N]; `sigma` [N, N] (covariance, or second moment without intercept);
// `units[u]` the channels of unit u; returns `count` unit indices, sorted. lambda = damp *
// mean(diag sigma).
Result<std::vector<int64_t>> select_by_obs(const std::vector<float>& weight, int64_t M, int64_t N,
                                           const std::vector<double>& sigma,
                                           const std::vector<std::vector<int64_t>>& units, int64_t count, double damp);

}  // namespace ember::passes::prune
