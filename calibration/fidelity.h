// Label-free fidelity: how closely a candidate model reproduces the FP32 model's outputs on
// held-back calibration rows. No labels are needed, so it works for any model Ember runs.
//
// Metrics (reference r = FP32 output, candidate c; a "row" is one vector along the last axis):
//   kl      mean over rows of KL(softmax(r) || softmax(c)) = sum_i p_i (log p_i - log q_i), nats;
//           0 when identical, lower is better.
//   top1    share of rows whose argmax agrees (first index on ties); 1 when identical.
//   sqnr    10 log10(sum r^2 / sum (r - c)^2) over every element of the output, dB; clamped to
//           [-200, 200] (200 = no measurable noise), higher is better.
//   cosine  mean over rows of r.c / (|r| |c|) (1 when both rows are zero, 0 when only one is).
//   expected-accuracy  the expected accuracy drop under the FP32 model's own probabilities:
//           p = softmax(r), a = argmax r, b = argmax c (first index on ties),
//           mean over rows of p_a - p_b; 0 when identical, lower is better, at most 1.
//           If the labels were drawn from p, the FP32 model would be right with probability
//           p_a and the candidate with p_b, so this is the accuracy a classifier is expected to
//           lose. Unlike kl it barely counts rows near a tie (p_a ~ p_b): their flips cost
//           nothing on average, while a confident flip costs its full probability gap.
// Several outputs: each float output is scored on its own and the worst output decides (the
// largest kl or expected-accuracy drop, the smallest top1, sqnr or cosine), so the budget holds for every output.
// Integer and bool outputs (indices, counts) are not scored. An output whose shape differs from
// the reference (e.g. a detector keeping a different number of boxes) scores as if the candidate
// knew nothing: kl against a uniform distribution, no agreement, cosine 0, all of it noise, and
// an expected-accuracy drop of p_a - 1/width (a uniform guess is right with probability 1/width).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "ir/model.h"
#include "ir/status.h"
#include "runtime/interpreter.h"

namespace ember::calibration {

enum class FidelityMetric { kKl, kTop1, kSqnr, kCosine, kExpectedAccuracy };

inline constexpr double kSqnrCapDb = 200;

Result<FidelityMetric> parse_fidelity_metric(const std::string& name);  // "kl" | "top1" | "sqnr" | "cosine" | "expected-accuracy"
bool is_fidelity_metric(const std::string& name);
const char* fidelity_metric_name(FidelityMetric metric);
bool higher_is_better(FidelityMetric metric);  // top1, sqnr, cosine

// One row's scores (exposed for tests).
double row_kl(const float* reference, const float* candidate, int64_t width);
double row_cosine(const float* reference, const float* candidate, int64_t width);
int64_t row_argmax(const float* values, int64_t width);
// p_a - p_b with p = softmax(reference), a = argmax reference, b = argmax candidate.
double row_expected_accuracy_drop(const float* reference, const float* candidate, int64_t width);

// Scores one output over several batches: add() each (reference, candidate) pair, then value().
class FidelityMeter {
 public:
  explicit FidelityMeter(FidelityMetric metric) : metric_(metric) {}
  // Both as floats with their shapes; a shape mismatch scores as described above.
  void add(const std::vector<float>& reference, const Shape& reference_shape, const std::vector<float>& candidate,
           const Shape& candidate_shape);
  double value() const;
  int64_t rows() const { return rows_; }

 private:
  void add_mismatch(const std::vector<float>& reference, int64_t width);
  FidelityMetric metric_;
  double sum_ = 0;  // kl, top1, cosine, expected-accuracy: the sum of the rows' scores
  int64_t rows_ = 0;
  double signal_ = 0, noise_ = 0;  // sqnr
};

// The FP32 model's outputs on the held-back rows, captured once.
struct FidelityReference {
  std::vector<std::map<std::string, Tensor>> feeds;  // one entry per batch of held-back rows
  std::vector<std::vector<Tensor>> outputs;          // FP32 outputs per batch, in graph order
  std::vector<std::string> output_names;
  std::vector<bool> scored;                          // per output: float, so it is compared
  int64_t rows = 0;
};

Result<FidelityReference> capture_reference(runtime::Interpreter& fp32, const CalibrationSet& held_back);

// The metric's value for a candidate (the worst scored output).
Result<double> measure_fidelity(runtime::Interpreter& candidate, const FidelityReference& reference, FidelityMetric metric);

// invalid_input when the metric cannot describe the outputs (kl, top1, cosine and
// expected-accuracy need a last
// dim >= 2 on every scored output; every metric needs a float output), naming the output.
Status check_metric_fits(FidelityMetric metric, const FidelityReference& reference);

// "auto" without labels: kl when every scored output looks like logits, else sqnr (which fits
// any float output, scalars included). An output looks like logits when its last dim is >= 2,
// its name does not say it is something else (embed, hidden, pool, feature, box, score after a
// Softmax...: see looks_like_logits) and either its name contains "logit" or a linear layer
// (MatMul, Gemm, or an Add of a bias after one) produces it. A regression head (last dim 1), an
// embedding that is normalised or pooled, probabilities after a Softmax or Sigmoid and detector
// boxes are therefore not logits.
FidelityMetric auto_fidelity_metric(const ir::Graph& graph, const FidelityReference& reference);
bool looks_like_logits(const ir::Graph& graph, const std::string& output, const Shape& shape);

}  // namespace ember::calibration
