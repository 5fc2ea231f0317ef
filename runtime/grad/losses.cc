#include "runtime/grad/losses.h"

#include <cmath>

namespace ember::runtime::grad {
namespace {

// Softmax cross-entropy of one row of `n` logits against class `label`, writing
// scale * (softmax - onehot) into g (used first as scratch for the exponentials). Returns
// -log p(label); the sum of exponentials is taken in double.
double row_cross_entropy(const float* logits, int64_t n, int64_t label, double scale, float* g) {
  float peak = logits[0];
  for (int64_t i = 1; i < n; ++i) peak = std::max(peak, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    g[i] = std::exp(logits[i] - peak);
    sum += g[i];
  }
  const float factor = static_cast<float>(scale / sum);
  for (int64_t i = 0; i < n; ++i) g[i] *= factor;
  g[label] -= static_cast<float>(scale);
  return std::log(sum) + peak - logits[label];
}

Status require_f32(const Tensor& t, const char* what) {
  if (t.dtype() == DType::kF32) return Status::Ok();
  return invalid_input(std::string(what) + " must be f32, got " + std::string(dtype_name(t.dtype())));
}

}  // namespace

Result<LossValue> lm_cross_entropy(const Tensor& logits, const Tensor& ids) {
  EMBER_TRY(require_f32(logits, "the logits"));
  if (logits.rank() != 3)
    return invalid_input("the lm loss needs logits [batch, seq, vocab], got " + shape_to_string(logits.shape()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, ids.to_int64s());
  const int64_t B = logits.dim(0), T = logits.dim(1), V = logits.dim(2);
  if (ids.rank() != 2 || ids.dim(0) != B || ids.dim(1) != T)
    return invalid_input("the lm loss needs input ids [batch, seq] matching the logits " + shape_to_string(logits.shape()) +
                         ", got " + shape_to_string(ids.shape()));
  if (T < 2) return invalid_input("the lm loss needs sequences of at least 2 tokens");
  LossValue out;
  out.terms = B * (T - 1);
  out.grad = Tensor::zeros(DType::kF32, logits.shape());
  const double scale = 1.0 / static_cast<double>(out.terms);
  double total = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) {
      const int64_t target = tokens[static_cast<size_t>(b * T + t + 1)];
      if (target < 0 || target >= V)
        return invalid_input("token id " + std::to_string(target) + " is outside the vocabulary of " + std::to_string(V));
      const int64_t row = (b * T + t) * V;
      total += row_cross_entropy(logits.data<float>() + row, V, target, scale, out.grad.mutable_data<float>() + row);
    }
  out.loss = total * scale;
  return out;
}

Result<LossValue> classification_cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels) {
  EMBER_TRY(require_f32(logits, "the logits"));
  if (logits.rank() != 2)
    return invalid_input("the ce loss needs logits [batch, classes], got " + shape_to_string(logits.shape()));
  const int64_t B = logits.dim(0), C = logits.dim(1);
  if (static_cast<int64_t>(labels.size()) != B)
    return invalid_input("got " + std::to_string(labels.size()) + " labels for a batch of " + std::to_string(B));
  LossValue out;
  out.terms = B;
  out.grad = Tensor::zeros(DType::kF32, logits.shape());
  const double scale = 1.0 / static_cast<double>(std::max<int64_t>(B, 1));
  double total = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t label = labels[static_cast<size_t>(b)];
    if (label < 0 || label >= C)
      return invalid_input("label " + std::to_string(label) + " is outside the " + std::to_string(C) + " classes");
    total += row_cross_entropy(logits.data<float>() + b * C, C, label, scale, out.grad.mutable_data<float>() + b * C);
  }
  out.loss = total * scale;
  return out;
}

Result<std::vector<int64_t>> argmax_labels(const Tensor& logits) {
  EMBER_TRY(require_f32(logits, "the logits"));
  if (logits.rank() != 2) return invalid_input("pseudo labels need logits [batch, classes], got " + shape_to_string(logits.shape()));
  const int64_t B = logits.dim(0), C = logits.dim(1);
  std::vector<int64_t> labels(static_cast<size_t>(B), 0);
  for (int64_t b = 0; b < B; ++b) {
    const float* row = logits.data<float>() + b * C;
    for (int64_t c = 1; c < C; ++c)
      if (row[c] > row[labels[size_t(b)]]) labels[size_t(b)] = c;
  }
  return labels;
}

Result<LossValue> mse(const Tensor& output, const Tensor& reference) {
  EMBER_TRY(require_f32(output, "the output"));
  EMBER_TRY(require_f32(reference, "the reference output"));
  if (output.shape() != reference.shape())
    return invalid_input("output " + shape_to_string(output.shape()) + " and reference " +
                         shape_to_string(reference.shape()) + " differ in shape");
  LossValue out;
  out.terms = output.numel();
  out.grad = Tensor::zeros(DType::kF32, output.shape());
  const double scale = 1.0 / static_cast<double>(std::max<int64_t>(out.terms, 1));
  double total = 0;
  for (int64_t i = 0; i < out.terms; ++i) {
    const double r = static_cast<double>(output.data<float>()[i]) - reference.data<float>()[i];
    total += 0.5 * r * r;
    out.grad.mutable_data<float>()[i] = static_cast<float>(r * scale);
  }
  out.loss = total * scale;
  return out;
}

Result<LossValue> mse_probe(const Tensor& output, std::mt19937& rng) {
  EMBER_TRY(require_f32(output, "the output"));
  LossValue out;
  out.terms = output.numel();
  out.grad = Tensor::zeros(DType::kF32, output.shape());
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(out.terms, 1))));
  for (int64_t i = 0; i < out.terms; ++i) out.grad.mutable_data<float>()[i] = static_cast<float>(normal(rng));
  return out;
}

}  // namespace ember::runtime::grad
