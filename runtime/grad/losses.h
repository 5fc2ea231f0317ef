// Losses for gradient-based analyses: each gives the batch's loss and dL/d(output).
// Every loss is a mean over its `terms` (tokens, rows or output elements), so gradients of
// batches of different sizes are comparable; `terms` lets a caller rescale.
//   lm:     next-token cross-entropy: logits [B, T, V] at position t predict ids[:, t+1]
//   ce:     classification cross-entropy: logits [B, C] against labels [B]
//   pseudo: ce against the model's own argmax (for calibration sets without labels)
//   mse:    1/2 mean squared error against reference outputs. At the reference point itself
//           the residual is zero and so is the gradient; `mse_probe` instead backpropagates
//           v ~ N(0, 1/terms), whose squared gradient is, in expectation, the Gauss-Newton
//           (= Hessian at the reference) diagonal of this loss.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime::grad {

struct LossValue {
  double loss = 0;     // mean over the terms, in nats for the cross-entropies
  int64_t terms = 0;   // tokens, rows or elements averaged over
  Tensor grad;         // dL/d(output), f32, the output's shape
};

// ids: the int64/int32 [B, T] input the logits were computed from.
Result<LossValue> lm_cross_entropy(const Tensor& logits, const Tensor& ids);
Result<LossValue> classification_cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels);
// The argmax class of each row of logits [B, C].
Result<std::vector<int64_t>> argmax_labels(const Tensor& logits);
Result<LossValue> mse(const Tensor& output, const Tensor& reference);
// The probe gradient described above; loss is 0.
Result<LossValue> mse_probe(const Tensor& output, std::mt19937& rng);

}  // namespace ember::runtime::grad
