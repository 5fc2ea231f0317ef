// The pruning back-off of a broken last stage (passes/search/prune_backoff.h) with a stand-in for
// building and measuring: the precisions stay, the groups whose pruning breaks the budget are
// skipped even when their prediction ranks them cheapest, a group that breaks at its ratio is
// tried again at a lower one, and run_progressive uses it before the layer bisection.
#include <doctest/doctest.h>

#include "passes/search/prune_backoff.h"

namespace ember::prune_backoff_test {
namespace {

using passes::LayerAction;
using passes::search::SearchLayer;
using passes::search::Stage;

const LayerAction kB32{LayerAction::Kind::kInt4, 32, "gptq"};
const LayerAction kB128{LayerAction::Kind::kInt4, 128, "gptq"};
const double kRatios[] = {0.1, 0.2, 0.3};

// Two FFN groups of two layers (f0a/f0b, f1a/f1b) and one attention-like group of one layer (h),
// each allowing FP32, INT4 b32 and b128, each combined with pruning at 10, 20 and 30%.
std::vector<SearchLayer> layers() {
  std::vector<SearchLayer> out;
  auto add = [&](const std::string& name, const std::string& group, Stage stage, bool rows) {
    SearchLayer l;
    l.weight = name;
    l.stage = stage;
    l.channels = 128, l.reduction = 128, l.params = 128 * 128;
    l.prune_group = group, l.prune_units = 128, l.prune_rows = rows;
    l.allowed = {LayerAction{}, kB32, kB128};
    for (double r : kRatios)
      for (const LayerAction& a : {LayerAction{LayerAction::Kind::kPrune}, kB32, kB128})
        l.allowed.push_back(passes::search::at_ratio(a, r));
    out.push_back(l);
  };
  add("f0a", "ffn0", Stage::kFfn, false);
  add("f0b", "ffn0", Stage::kFfn, true);
  add("f1a", "ffn1", Stage::kFfn, false);
  add("f1b", "ffn1", Stage::kFfn, true);
  add("h", "att0", Stage::kAttention, false);
  return out;
}

double precision_loss(const LayerAction& a) {
  const LayerAction p = passes::search::without_pruning(a);
  return p.kind == LayerAction::Kind::kKeepFloat ? 0.0 : p.block == 128 ? 0.2 : 0.1;
}

// Predicted: pruning costs its ratio per layer on ffn0, three times that on ffn1 and next to
// nothing on h.
double predicted(size_t i, const LayerAction& a) {
  const double r = passes::search::prune_ratio(a);
  return precision_loss(a) + (i == 4 ? 0.01 * r : i == 2 || i == 3 ? 3 * r : r);
}

// "Measured": h's pruning costs 10 at any ratio (its prediction is 1000x off), ffn1 costs 3 per
// layer at 30% but 0.4 at 20%; the budget allows 2.5.
double measured(const std::vector<LayerAction>& state) {
  double d = 0;
  for (size_t i = 0; i < state.size(); ++i) {
    const double r = passes::search::prune_ratio(state[i]);
    d += precision_loss(state[i]);
    if (r > 0) d += i == 4 ? 10.0 : (i == 2 || i == 3) ? (r > 0.25 ? 3.0 : 2 * r) : r;
  }
  return d;
}

}  // namespace

TEST_CASE("prune back-off: ratios step down through the allowed ones, precisions kept") {
  const auto ls = layers();
  CHECK(passes::search::at_ratio(kB128, 0.2) == LayerAction{LayerAction::Kind::kInt4, 128, "gptq", 0.2});
  CHECK(passes::search::at_ratio(LayerAction{}, 0.3).kind == LayerAction::Kind::kPrune);
  CHECK(passes::search::at_ratio(passes::search::at_ratio(kB32, 0.3), 0) == kB32);
  const std::vector<LayerAction> state(ls.size(), kB128);
  passes::search::PruneStep step{{0, 1}, 0.3};
  CHECK(passes::search::lower_ratio(ls, state, step) == doctest::Approx(0.2));
  step.ratio = 0.1;
  CHECK(passes::search::lower_ratio(ls, state, step) == 0);
}

TEST_CASE("prune back-off: groups ordered by predicted loss per byte saved") {
  const auto ls = layers();
  std::vector<LayerAction> state(ls.size(), passes::search::at_ratio(kB128, 0.3));
  state[2] = state[3] = passes::search::at_ratio(kB128, 0.1);
  const auto steps = passes::search::prune_steps(ls, state, predicted);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].layers == std::vector<size_t>{4});     // predicted almost free
  CHECK(steps[1].layers == std::vector<size_t>{0, 1});  // 0.3 per layer for 38 neurons
  CHECK(steps[2].layers == std::vector<size_t>{2, 3});  // 0.3 per layer for 13 neurons: a worse rate
  CHECK(steps[2].ratio == doctest::Approx(0.1));
}

TEST_CASE("prune back-off: the mispredicted group is skipped, a breaking ratio is retried lower") {
  const auto ls = layers();
  const std::vector<LayerAction> broken(ls.size(), passes::search::at_ratio(kB128, 0.3));
  std::vector<std::string> tried;
  auto try_candidate = [&](const std::string& name, const std::vector<LayerAction>& s) -> Result<bool> {
    tried.push_back(name);
    return measured(s) <= 2.5;
  };
  passes::SearchStageRecord record{"aggressive", 0, 0};
  auto got = passes::search::prune_back_off(ls, broken, predicted, try_candidate, {}, record);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  const auto& s = **got;
  CHECK(measured(s) <= 2.5);
  for (const auto& a : s) CHECK(passes::search::without_pruning(a) == kB128);  // no layer back to b32
  CHECK(passes::search::prune_ratio(s[0]) == doctest::Approx(0.3));
  CHECK(passes::search::prune_ratio(s[1]) == doctest::Approx(0.3));
  CHECK(passes::search::prune_ratio(s[2]) == doctest::Approx(0.2));  // 30% broke the budget, 20% fits
  CHECK(passes::search::prune_ratio(s[3]) == doctest::Approx(0.2));
  CHECK(passes::search::prune_ratio(s[4]) == 0);                     // any pruning of h breaks it
  CHECK(tried.front() == "aggressive-backoff-unpruned");
  CHECK(record.candidates == int64_t(tried.size()));
  CHECK(tried.size() <= 9);
}

TEST_CASE("prune back-off: nothing when the precisions alone break the budget, and a cap on the measurements") {
  const auto ls = layers();
  const std::vector<LayerAction> broken(ls.size(), passes::search::at_ratio(kB128, 0.3));
  passes::SearchStageRecord record{"aggressive", 0, 0};
  auto never = [](const std::string&, const std::vector<LayerAction>&) -> Result<bool> { return false; };
  auto got = passes::search::prune_back_off(ls, broken, predicted, never, {}, record);
  REQUIRE(got.ok());
  CHECK(!got->has_value());
  int calls = 0;
  auto counted = [&](const std::string&, const std::vector<LayerAction>& s) -> Result<bool> {
    ++calls;
    return measured(s) <= 2.5;
  };
  got = passes::search::prune_back_off(ls, broken, predicted, counted, {}, record, 2);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK(calls == 3);  // the unpruned state and two more
  CHECK(measured(**got) <= 2.5);
}

namespace {

// Three attention blocks of one layer each (a0..a2, one ratio: 25%) whose pruning is predicted
// almost free and measured at 5 each, and one FFN (two layers, 10-30%) that fits at 30%.
std::vector<SearchLayer> heads_and_ffn() {
  std::vector<SearchLayer> out;
  auto add = [&](const std::string& name, const std::string& group, bool heads, std::vector<double> ratios) {
    SearchLayer l;
    l.weight = name;
    l.stage = heads ? Stage::kAttention : Stage::kFfn;
    l.channels = 128, l.reduction = 128, l.params = 128 * 128;
    l.prune_group = group, l.prune_units = 128, l.prune_heads = heads;
    l.allowed = {LayerAction{}, kB128};
    for (double r : ratios) l.allowed.push_back(passes::search::at_ratio(kB128, r));
    out.push_back(l);
  };
  for (int b = 0; b < 3; ++b) add("a" + std::to_string(b), "block" + std::to_string(b), true, {0.25});
  add("fa", "ffn", false, {0.1, 0.2, 0.3});
  add("fb", "ffn", false, {0.1, 0.2, 0.3});
  return out;
}

double heads_predicted(size_t i, const LayerAction& a) {
  const double r = passes::search::prune_ratio(a);
  return precision_loss(a) + (i < 3 ? 0.01 * r : r);
}

double heads_measured(const std::vector<LayerAction>& state) {
  double d = 0;
  for (size_t i = 0; i < state.size(); ++i) {
    const double r = passes::search::prune_ratio(state[i]);
    d += precision_loss(state[i]) + (r > 0 ? (i < 3 ? 5.0 : r) : 0.0);
  }
  return d;
}

}  // namespace

TEST_CASE("prune back-off: a skipped step's measured damage calibrates its kind, whose other steps are not measured") {
  const auto ls = heads_and_ffn();
  std::vector<LayerAction> broken(ls.size(), passes::search::at_ratio(kB128, 0.25));
  broken[3] = broken[4] = passes::search::at_ratio(kB128, 0.3);
  std::vector<std::vector<LayerAction>> tried;
  auto try_candidate = [&](const std::string&, const std::vector<LayerAction>& s) -> Result<bool> {
    tried.push_back(s);
    return heads_measured(s) <= 2.0;
  };
  passes::search::MeasuredDamage damage;
  damage.room = 2.0;
  damage.of = [](const std::vector<LayerAction>& s) -> std::optional<double> { return heads_measured(s); };
  passes::SearchStageRecord record{"aggressive", 0, 0};
  // Four measurements: without the calibration they go to the heads (each breaks the budget).
  auto blind = passes::search::prune_back_off(ls, broken, heads_predicted, try_candidate, {}, record, 4);
  REQUIRE(blind.ok());
  REQUIRE(blind->has_value());
  CHECK(passes::search::prune_ratio((**blind)[3]) == 0);
  tried.clear();
  auto got = passes::search::prune_back_off(ls, broken, heads_predicted, try_candidate, {}, record, 4, damage);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  const auto& s = **got;
  CHECK(heads_measured(s) <= 2.0);
  for (size_t i = 0; i < 3; ++i) CHECK(passes::search::prune_ratio(s[i]) == 0);
  CHECK(passes::search::prune_ratio(s[3]) == doctest::Approx(0.3));
  CHECK(passes::search::prune_ratio(s[4]) == doctest::Approx(0.3));
  // The unpruned state, two for the first head, then the FFN: a1 and a2 are never measured.
  CHECK(tried.size() == 4);
  for (const auto& t : tried) CHECK(passes::search::prune_ratio(t[1]) + passes::search::prune_ratio(t[2]) <= 0.25);
}

TEST_CASE("progressive: a broken last stage that prunes backs off pruning before whole layers") {
  const auto ls = layers();
  const std::vector<LayerAction> chosen(ls.size(), passes::search::at_ratio(kB128, 0.3));
  auto try_candidate = [&](const std::string&, const std::vector<LayerAction>& s) -> Result<bool> { return measured(s) <= 2.5; };
  auto outcome = passes::search::run_progressive(ls, chosen, predicted, true, try_candidate, {});
  REQUIRE(outcome.ok());
  CHECK(outcome->within_budget);
  const auto& a = outcome->actions;
  CHECK(measured(a) <= 2.5);
  for (const auto& x : a) CHECK(passes::search::without_pruning(x) == kB128);  // the layer bisection would return b32
  CHECK(passes::search::prune_ratio(a[0]) == doctest::Approx(0.3));
  CHECK(passes::search::prune_ratio(a[2]) == doctest::Approx(0.2));
  CHECK(passes::search::prune_ratio(a[4]) == 0);
}

}  // namespace ember::prune_backoff_test
