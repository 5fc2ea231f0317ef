// The fill step (passes/search/fill.h): only cheaper moves from the verified choice, the
// cheapest set whose predicted loss stays within the allowance, and the allowance from the
// measured slack.
#include <doctest/doctest.h>

#include <random>

#include "passes/search/fill.h"

namespace ember::fill_test {
namespace {

using passes::search::Option;
using Items = std::vector<std::vector<Option>>;

int64_t cost_of(const Items& items, const std::vector<size_t>& choice) {
  int64_t c = 0;
  for (size_t i = 0; i < items.size(); ++i) c += items[i][choice[i]].cost;
  return c;
}

double loss_of(const Items& items, const std::vector<size_t>& choice) {
  double l = 0;
  for (size_t i = 0; i < items.size(); ++i) l += items[i][choice[i]].loss;
  return l;
}

TEST_CASE("fill: no allowance keeps the verified choice") {
  const Items items = {{{100, 0.0}, {50, 0.2}, {30, 0.5}}, {{80, 0.0}, {40, 0.1}}};
  const std::vector<size_t> current = {1, 0};
  auto got = passes::search::fill_cheaper(items, current, 0.0);
  REQUIRE(got.ok());
  CHECK(got->choice == current);
}

TEST_CASE("fill: the cheapest moves within the allowance, never to a larger option") {
  // Item 0 sits at 50 bytes; its 100-byte option (less loss) must never come back.
  const Items items = {{{100, 0.0}, {50, 0.2}, {30, 0.5}}, {{80, 0.0}, {40, 0.1}, {20, 0.9}}};
  const std::vector<size_t> current = {1, 0};
  // 0.15 of allowance: item 1 to 40 bytes (+0.1) fits; item 0 to 30 (+0.3) does not.
  auto got = passes::search::fill_cheaper(items, current, 0.15);
  REQUIRE(got.ok());
  CHECK(got->choice == std::vector<size_t>{1, 1});
  CHECK(got->cost == 90);
  // 0.45: both moves (+0.4) fit, 70 bytes.
  got = passes::search::fill_cheaper(items, current, 0.45);
  REQUIRE(got.ok());
  CHECK(got->choice == std::vector<size_t>{2, 1});
  // Everything allowed: the cheapest of all.
  got = passes::search::fill_cheaper(items, current, 10.0);
  REQUIRE(got.ok());
  CHECK(got->choice == std::vector<size_t>{2, 2});
  for (double a : {0.0, 0.05, 0.15, 0.3, 0.45, 0.8, 1.2, 10.0}) {
    got = passes::search::fill_cheaper(items, current, a);
    REQUIRE(got.ok());
    CHECK(got->choice[0] != 0);  // never the larger option
    CHECK(cost_of(items, got->choice) <= cost_of(items, current));
    CHECK(loss_of(items, got->choice) <= loss_of(items, current) + a + 1e-12);
  }
}

TEST_CASE("fill: a bad current choice is an error, not a crash") {
  const Items items = {{{100, 0.0}, {50, 0.2}}};
  CHECK_FALSE(passes::search::fill_cheaper(items, {5}, 1.0).ok());
  CHECK_FALSE(passes::search::fill_cheaper(items, {}, 1.0).ok());
}

TEST_CASE("fill: the allowance from the measured slack") {
  using passes::search::fill_allowance;
  CHECK(fill_allowance(0.0, 0.01, 1.0, 0.5, 0.8) == 0);
  CHECK(fill_allowance(-0.001, 0.01, 1.0, 0.5, 0.8) == 0);
  // Measured 0.01 for 0.01 predicted: 1 unit of metric per loss, above the calibrated 0.5.
  CHECK(fill_allowance(0.002, 0.01, 0.01, 0.5, 0.8) == doctest::Approx(0.0016));
  // Measured less than calibrated: the calibrated (larger, more careful) scale.
  CHECK(fill_allowance(0.002, 0.001, 0.01, 0.5, 0.5) == doctest::Approx(0.002));
  // No measured damage: the calibrated scale alone.
  CHECK(fill_allowance(0.002, 0.0, 0.01, 0.5, 1.0) == doctest::Approx(0.004));
  CHECK(fill_allowance(0.002, 0.0, 0.0, 0.0, 1.0) == 0);
}

}  // namespace
}  // namespace ember::fill_test

namespace ember::fill_test {
namespace {

// The search measures its pruning probe only when an allocation at the unscaled pruning
// prediction (factor 1) prunes (search_controller.cc, allocate_measured). That rests on this:
// an allocation without pruning options at factor 1 stays the optimum at any factor >= 1.
TEST_CASE("fill: an allocation that prunes nothing at factor 1 is optimal at any larger factor") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> cost(1, 60);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  int checked = 0;
  for (int trial = 0; trial < 300; ++trial) {
    // Per item: FP32 {100, 0}, two precisions, two "pruning" options (their loss scales with f).
    Items base(5);
    std::vector<std::vector<bool>> pruning(5);
    for (size_t i = 0; i < base.size(); ++i) {
      base[i] = {{100, 0.0}};
      pruning[i] = {false};
      for (int a = 0; a < 4; ++a) base[i].push_back({cost(rng), loss(rng)}), pruning[i].push_back(a >= 2);
    }
    auto scaled = [&](double f) {
      Items out = base;
      for (size_t i = 0; i < out.size(); ++i)
        for (size_t a = 0; a < out[i].size(); ++a)
          if (pruning[i][a]) out[i][a].loss *= f;
      return out;
    };
    const int64_t capacity = passes::search::minimum_cost(base) + std::uniform_int_distribution<int64_t>(0, 300)(rng);
    const double limit = std::uniform_real_distribution<double>(0.2, 2.5)(rng);
    auto at_one = passes::search::allocate_under_cost(scaled(1.0), capacity, 1 << 16);
    auto smallest_one = passes::search::allocate_smallest(scaled(1.0), limit, 1 << 16);
    REQUIRE(at_one.ok());
    REQUIRE(smallest_one.ok());
    auto prunes = [&](const std::vector<size_t>& choice) {
      for (size_t i = 0; i < choice.size(); ++i)
        if (pruning[i][choice[i]]) return true;
      return false;
    };
    for (double f : {1.5, 3.0, 10.0}) {
      if (!prunes(at_one->choice)) {
        auto at_f = passes::search::allocate_under_cost(scaled(f), capacity, 1 << 16);
        REQUIRE(at_f.ok());
        CHECK(at_f->loss == doctest::Approx(at_one->loss));
        ++checked;
      }
      if (!prunes(smallest_one->choice)) {
        auto at_f = passes::search::allocate_smallest(scaled(f), limit, 1 << 16);
        REQUIRE(at_f.ok());
        CHECK(at_f->cost == smallest_one->cost);
        ++checked;
      }
    }
  }
  CHECK(checked > 100);
}

}  // namespace
}  // namespace ember::fill_test
