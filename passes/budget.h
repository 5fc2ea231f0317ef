// The accuracy budget of a compression: how far quality may move from the FP32 model's.
//   lower-is-better metrics (bits per byte):  limit = reference * (1 + allowed)   (relative)
//   higher-is-better metrics (accuracy):      limit = reference - allowed         (absolute)
#pragma once
#include <cmath>
#include <string>

#include "ir/status.h"

namespace ember::passes {

struct Budget {
  bool lower_is_better = true;
  double allowed = 0;  // relative increase (lower is better) or absolute drop (higher is better)

  double limit(double reference) const { return lower_is_better ? reference * (1 + allowed) : reference - allowed; }
  bool within(double quality, double reference) const {
    return lower_is_better ? quality <= limit(reference) : quality >= limit(reference);
  }
};

// A budget from a user's number: finite and >= 0; an absolute drop of accuracy below 1.
inline Result<Budget> make_budget(bool lower_is_better, double allowed) {
  if (!std::isfinite(allowed) || allowed < 0)
    return invalid_input("the budget must be a finite number >= 0, got " + std::to_string(allowed));
  if (!lower_is_better && allowed >= 1)
    return invalid_input("an accuracy budget is an absolute drop below 1 (0.01 = one point), got " + std::to_string(allowed));
  return Budget{lower_is_better, allowed};
}

}  // namespace ember::passes
