#include "passes/budget.h"

namespace ember::passes {
namespace {

std::string number(double v) {
  std::string s = std::to_string(v);
  return std::isfinite(v) ? s : (std::isnan(v) ? "NaN" : s);
}

}  // namespace

double default_budget(const std::string& metric) {
  if (metric == "bits_per_byte") return 0.015;
  if (metric == "accuracy") return 0.01;
  if (metric == "kl") return 0.01;
  if (metric == "top1") return 0.01;
  if (metric == "sqnr") return 20;
  if (metric == "cosine") return 0.005;
  if (metric == "expected-accuracy") return 0.01;
  return 0;
}

Result<Budget> make_metric_budget(const std::string& metric, std::optional<double> allowed) {
  if (!is_budget_metric(metric))
    return invalid_input("unknown budget metric '" + metric + "' (bits_per_byte, accuracy, kl, top1, sqnr, cosine, expected-accuracy)");
  const double a = allowed.value_or(default_budget(metric));
  if (!std::isfinite(a) || a < 0)
    return invalid_input("the " + metric + " budget must be a finite number >= 0, got " + number(a) +
                         (a < 0 ? " (a budget is how much quality may be lost, never a gain)" : ""));
  if (metric == "bits_per_byte") return Budget{true, a};
  if (metric == "accuracy") {
    if (a >= 1) return invalid_input("an accuracy budget is an absolute drop below 1 (0.01 = one point), got " + number(a));
    return Budget{false, a};
  }
  if (metric == "kl") return Budget{true, a, BudgetKind::kAbsoluteIncrease};
  if (metric == "expected-accuracy") {
    if (a >= 1)
      return invalid_input("an expected-accuracy budget is an absolute drop below 1 (a drop of 1 accepts any model; "
                           "0.01 = one point), got " + number(a));
    return Budget{true, a, BudgetKind::kAbsoluteIncrease};
  }
  if (metric == "sqnr") {
    if (a > 200)
      return invalid_input("an sqnr budget is the lowest acceptable SQNR in dB, at most 200 (noise-free), got " + number(a));
    return Budget{false, a, BudgetKind::kFloor};
  }
  // top1, cosine: an absolute drop from 1.
  if (a >= 1)
    return invalid_input("a " + metric + " budget is an absolute drop from 1 and must be below 1 (a drop of 1 accepts any model; "
                         "0.01 = one point), got " + number(a));
  return Budget{false, a};
}

}  // namespace ember::passes
