// The accuracy budget of a compression: how far quality may move from the FP32 model's.
//   lower-is-better metrics (bits per byte):  limit = reference * (1 + allowed)   (relative)
//   higher-is-better metrics (accuracy):      limit = reference - allowed         (absolute)
// Label-free fidelity metrics (calibration/fidelity.h) use the other kinds:
//   kl:          limit = reference + allowed   (absolute increase, nats; the reference is 0)
//   expected-accuracy: limit = reference + allowed (absolute increase of the expected accuracy
//                drop; the reference is 0)
//   top1/cosine: limit = reference - allowed   (absolute drop; the reference is 1)
//   sqnr:        limit = allowed               (a floor in dB; the reference is the 200 dB cap)
#pragma once
#include <cmath>
#include <optional>
#include <string>

#include "ir/status.h"

namespace ember::passes {

enum class BudgetKind {
  kByDirection,       // relative increase when lower is better, absolute drop otherwise (task metrics)
  kAbsoluteIncrease,  // lower is better: limit = reference + allowed
  kFloor,             // higher is better: limit = allowed, whatever the reference
};

struct Budget {
  bool lower_is_better = true;
  double allowed = 0;  // relative increase (lower is better) or absolute drop (higher is better); see kind
  BudgetKind kind = BudgetKind::kByDirection;

  double limit(double reference) const {
    if (kind == BudgetKind::kAbsoluteIncrease) return reference + allowed;
    if (kind == BudgetKind::kFloor) return allowed;
    return lower_is_better ? reference * (1 + allowed) : reference - allowed;
  }
  bool within(double quality, double reference) const {
    return lower_is_better ? quality <= limit(reference) : quality >= limit(reference);
  }
  // How much worse than `reference` a quality is, in the metric's units (>= 0 is worse).
  double damage(double quality, double reference) const { return lower_is_better ? quality - reference : reference - quality; }
  // The damage the budget allows.
  double room(double reference) const { return std::fabs(limit(reference) - reference); }
};

// A budget from a user's number: finite and >= 0; an absolute drop of accuracy below 1.
inline Result<Budget> make_budget(bool lower_is_better, double allowed) {
  if (!std::isfinite(allowed) || allowed < 0)
    return invalid_input("the budget must be a finite number >= 0, got " + std::to_string(allowed));
  if (!lower_is_better && allowed >= 1)
    return invalid_input("an accuracy budget is an absolute drop below 1 (0.01 = one point), got " + std::to_string(allowed));
  return Budget{lower_is_better, allowed};
}

// The metrics a budget can be stated in: the task metrics and the fidelity metrics.
inline bool is_budget_metric(const std::string& metric) {
  for (const char* m : {"bits_per_byte", "accuracy", "kl", "top1", "sqnr", "cosine", "expected-accuracy"})
    if (metric == m) return true;
  return false;
}

// Lower is better for bits_per_byte, kl and expected-accuracy; higher for accuracy, top1, sqnr
// and cosine.
inline bool metric_lower_is_better(const std::string& metric) {
  return metric == "bits_per_byte" || metric == "kl" || metric == "expected-accuracy";
}

// The default `allowed` of a metric when the user gives none:
//   bits_per_byte +1.5% (relative), accuracy -0.01, kl +0.01 nats, top1 -0.01 (99% of the rows
//   keep their argmax), sqnr a floor of 20 dB, cosine -0.005 (mean cosine >= 0.995; about the
//   error that 20 dB of SQNR gives), expected-accuracy +0.01 (the labelled classify default:
//   the accuracy a classifier is expected to lose if labels followed the FP32 probabilities).
// Why 0.01 nats: KL(FP32 || candidate) is how much the candidate's cross-entropy grows on data
// drawn from the FP32 model's own predictions. 0.01 nats = 0.0144 bits per token, +1.3% of
// kjv-gpt2's 1.133 bits/byte: about the labelled lm default (+1.5%).
double default_budget(const std::string& metric);

// The budget of a named metric, checked against what the metric can take (invalid_input with
// the reason): NaN, infinite or negative values never; top1, cosine and expected-accuracy drops
// below 1 (a drop of 1 accepts any model); an accuracy drop below 1; an sqnr floor up to 200 dB (the cap).
Result<Budget> make_metric_budget(const std::string& metric, std::optional<double> allowed);

}  // namespace ember::passes
