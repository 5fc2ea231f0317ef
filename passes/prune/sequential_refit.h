// The least squares refit of recovery.h, layer by layer on the pruned model's own activations
// (recovery=lsq-seq). FFN groups are pruned in graph order; for group g the consumer's input
// is observed twice on the same calibration rows: x from the original model and x~ from the
// model with the groups before g already pruned (its drift included). The kept weights and
// bias are fitted so that the pruned consumer reproduces the original output:
//   min_{W', b'} E || W x + b - W' x~_S - b' ||^2 + lambda || W' - W_S ||^2
//   W'^T = (Sigma~_SS + lambda I)^-1 (K W^T + lambda W_S^T),  K = Cov(x~_S, x),  Sigma~_SS = Cov(x~_S)
//   b'   = b + W E[x] - W' E[x~_S]
// (uncentered second moments and no intercept when the consumer has no bias). With no
// upstream change (x~ = x) this is exactly recovery.h's lsq, damping included. One Cholesky per layer; the cost
// is two forward passes over the rows used for each group.
#pragma once
#include <vector>

#include "calibration/dataset.h"
#include "passes/prune/ffn_groups.h"
#include "passes/prune/recovery.h"

namespace ember::passes::prune {

// `weight` canonical [M, N] and `bias` [M] (or empty) of g's consumer in the original model.
Result<ConsumerUpdate> refit_on_pruned(const ir::Model& original, const ir::Model& pruned,
                                       const calibration::CalibrationSet& calib, const FfnGroup& g,
                                       const std::vector<float>& weight, const std::vector<float>& bias,
                                       const std::vector<int64_t>& kept, double damp, int64_t max_rows);

}  // namespace ember::passes::prune
