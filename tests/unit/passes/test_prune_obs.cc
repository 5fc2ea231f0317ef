// select=obs (passes/prune/obs_selection.h): the units of a layer chosen by the error the
// least squares refit leaves, not by their scores.
#include <doctest/doctest.h>

#include "passes/analysis/layer_inputs.h"
#include "passes/prune/obs_selection.h"
#include "passes/prune/recovery.h"
#include "tests/unit/passes/activation_test_util.h"

using namespace ember;
using namespace ember::act_test;

namespace {

// x = [a0, a1, a2, a0 + a1 (+ a little noise), a4, a5]: channel 3 is nearly predictable from 0 and 1.
struct Inputs {
  int64_t rows = 400, n = 6;
  std::vector<float> x;
  passes::analysis::LayerInputStats stats;
};

Inputs redundant_inputs() {
  Inputs in;
  Rng rng(5);
  for (int64_t r = 0; r < in.rows; ++r) {
    const std::vector<float> a = normals(rng, 6, 1.0);
    in.x.insert(in.x.end(), {a[0], a[1], a[2], a[0] + a[1] + 0.01f * a[3], a[4], a[5]});
  }
  in.stats.dim = in.n;
  in.stats.xtx = std::make_unique<passes::analysis::HessianAccumulator>(in.n);
  in.stats.xtx->add(in.x.data(), in.rows);
  in.stats.rows = in.rows;
  in.stats.sum.assign(size_t(in.n), 0.0);
  for (int64_t r = 0; r < in.rows; ++r)
    for (int64_t k = 0; k < in.n; ++k) in.stats.sum[size_t(k)] += in.x[size_t(r * in.n + k)];
  return in;
}

// Mean squared output error of the consumer after removing `removed` and refitting (lsq).
double refit_error(const Inputs& in, const std::vector<float>& w, int64_t M, const std::vector<int64_t>& removed) {
  std::vector<int64_t> kept;
  for (int64_t k = 0; k < in.n; ++k)
    if (std::find(removed.begin(), removed.end(), k) == removed.end()) kept.push_back(k);
  const std::vector<float> b(size_t(M), 0.0f);
  auto update = passes::prune::recover_consumer(w, b, M, in.n, kept, removed, passes::prune::Recovery::kLsq, &in.stats, 1e-6);
  REQUIRE(update.ok());
  double err = 0;
  for (int64_t r = 0; r < in.rows; ++r)
    for (int64_t o = 0; o < M; ++o) {
      double full = 0, pruned = update->bias[size_t(o)];
      for (int64_t k = 0; k < in.n; ++k) full += w[size_t(o * in.n + k)] * in.x[size_t(r * in.n + k)];
      for (size_t j = 0; j < kept.size(); ++j) pruned += update->weight[size_t(o) * kept.size() + j] * in.x[size_t(r * in.n + kept[j])];
      err += (full - pruned) * (full - pruned);
    }
  return err / static_cast<double>(in.rows);
}

}  // namespace

TEST_CASE("prune obs selection: removes the unit the refit restores, not the smallest weight") {
  const Inputs in = redundant_inputs();
  // Channel 2 has the smallest weights (a magnitude score removes it first), but nothing predicts
  // it; any one of channels 0, 1 and 3 the refit restores from the other two.
  const int64_t M = 2;
  const std::vector<float> w = {0.5f, -0.4f, 0.3f, 2.0f, 0.6f, -0.7f,  //
                                -0.6f, 0.5f, -0.2f, 1.5f, 0.4f, 0.8f};
  const std::vector<double> sigma = passes::prune::input_moments(in.stats, in.n, true);
  std::vector<std::vector<int64_t>> units;
  for (int64_t k = 0; k < in.n; ++k) units.push_back({k});
  auto one = passes::prune::select_by_obs(w, M, in.n, sigma, units, 1, 1e-6);
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  const int64_t chosen = (*one)[0];
  CHECK((chosen == 0 || chosen == 1 || chosen == 3));
  for (int64_t k = 0; k < in.n; ++k) CHECK(refit_error(in, w, M, {chosen}) <= refit_error(in, w, M, {k}) * 1.0001);
  CHECK(refit_error(in, w, M, {chosen}) < 0.01 * refit_error(in, w, M, {2}));
  // Two steps: the first choice stays, and no pair leaves less (one free removal, then the cheapest other).
  auto two = passes::prune::select_by_obs(w, M, in.n, sigma, units, 2, 1e-6);
  REQUIRE(two.ok());
  REQUIRE(two->size() == 2);
  CHECK(std::count(two->begin(), two->end(), chosen) == 1);
  for (int64_t a = 0; a < in.n; ++a)
    for (int64_t b = a + 1; b < in.n; ++b) CHECK(refit_error(in, w, M, *two) <= refit_error(in, w, M, {a, b}) * 1.0001);
}

TEST_CASE("prune obs selection: multi-channel units (heads) - deterministic, bad sizes refused") {
  const Inputs in = redundant_inputs();
  const int64_t M = 2;
  const std::vector<float> w = {0.5f, -0.4f, 0.3f, 2.0f, 0.6f, -0.7f, -0.6f, 0.5f, -0.2f, 1.5f, 0.4f, 0.8f};
  const std::vector<double> sigma = passes::prune::input_moments(in.stats, in.n, true);
  // Heads of two channels: {0,1}, {2,3}, {4,5}. Removing {2,3} loses a2, which nothing predicts;
  // removing {0,1} loses a0 and a1, whose sum channel 3 keeps: the refit restores W's a0 + a1 part only.
  const std::vector<std::vector<int64_t>> heads = {{0, 1}, {2, 3}, {4, 5}};
  auto a = passes::prune::select_by_obs(w, M, in.n, sigma, heads, 1, 1e-6);
  auto b = passes::prune::select_by_obs(w, M, in.n, sigma, heads, 1, 1e-6);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
  double best = 1e300;
  size_t best_head = 0;
  for (size_t h = 0; h < heads.size(); ++h) {
    const double e = refit_error(in, w, M, heads[h]);
    if (e < best) best = e, best_head = h;
  }
  CHECK((*a)[0] == static_cast<int64_t>(best_head));
  CHECK(passes::prune::select_by_obs(w, M, in.n + 1, sigma, heads, 1, 1e-6).status().code() == StatusCode::kInvalidInput);
  CHECK(passes::prune::select_by_obs(w, M, in.n, sigma, {{0, 7}}, 1, 1e-6).status().code() == StatusCode::kInvalidInput);
}
