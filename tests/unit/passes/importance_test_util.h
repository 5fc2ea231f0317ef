// What the importance tests on control flow and sequences share: scoring a model on an .npz
// with the MSE loss and f32 products, finding a weight's row, and checking that two graphs of
// the same network (Scan against unrolled, sequences against Concat/Split) score alike.
#pragma once
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "calibration/dataset.h"
#include "passes/analysis/importance.h"

namespace ember::importance_test {

namespace pa = passes::analysis;

// Batches of 4 rows; f32 products, since two graphs of one network sum them in other orders.
inline Result<pa::ImportanceReport> score_mse(const ir::Model& m, const std::string& npz_path) {
  calibration::CalibrationOptions co;
  co.batch = pa::importance_batch_rows(m.graph, 4);
  EMBER_ASSIGN_OR_RETURN(auto set, calibration::CalibrationSet::open(npz_path, m.graph.feed_inputs(), co));
  pa::ImportanceOptions options;
  options.loss = pa::ImportanceLoss::kMse;
  options.bf16_products = false;
  return pa::compute_importance(m, set, options);
}

inline const pa::TensorImportance* find_tensor(const pa::ImportanceReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// Each named weight is scored in both reports, with a positive Taylor score, and the two
// reports' Taylor and Fisher scores agree to `epsilon` (relative).
inline void check_same_scores(const pa::ImportanceReport& a, const pa::ImportanceReport& b,
                              std::initializer_list<const char*> names, double epsilon) {
  for (const char* name : names) {
    INFO(name);
    const pa::TensorImportance *x = find_tensor(a, name), *y = find_tensor(b, name);
    REQUIRE(x);
    REQUIRE(y);
    CHECK(x->taylor > 0);
    CHECK(x->taylor == doctest::Approx(y->taylor).epsilon(epsilon));
    CHECK(x->fisher_sum == doctest::Approx(y->fisher_sum).epsilon(epsilon));
  }
}

}  // namespace ember::importance_test
