// Progressive verification (passes/search/progressive.h) with a stand-in for building and
// measuring: the stage order, the bisection that backs off the most damaging layers, and that
// backed-off layers keep their previous action.
#include <doctest/doctest.h>

#include <set>

#include "passes/search/progressive.h"

namespace ember::progressive_test {
namespace {

using passes::LayerAction;
using passes::search::SearchLayer;
using passes::search::Stage;

SearchLayer layer(const std::string& name, Stage stage) {
  SearchLayer l;
  l.weight = name;
  l.stage = stage;
  l.params = 1000;
  return l;
}

const LayerAction kB128{LayerAction::Kind::kInt4, 128, "gptq", 0};
const LayerAction kB32{LayerAction::Kind::kInt4, 32, "gptq", 0};

}  // namespace

TEST_CASE("progressive: stages in order, and a broken stage backs off its most damaging layers by bisection") {
  const std::vector<SearchLayer> layers = {layer("f0", Stage::kFfn), layer("f1", Stage::kFfn), layer("a0", Stage::kAttention),
                                           layer("a1", Stage::kAttention), layer("e", Stage::kEmbedding)};
  const std::vector<LayerAction> chosen(layers.size(), kB128);
  // Predicted damage: layer i costs (i + 1) at b128 and half of it at b32.
  auto predicted = [](size_t i, const LayerAction& a) {
    return a.kind == LayerAction::Kind::kKeepFloat ? 0.0 : (a.block == 128 ? 1.0 : 0.5) * double(i + 1);
  };
  // The "measured" quality: within budget while the summed true damage stays <= 6.
  std::vector<std::string> tried;
  auto try_candidate = [&](const std::string& name, const std::vector<LayerAction>& actions) -> Result<bool> {
    tried.push_back(name);
    double damage = 0;
    for (size_t i = 0; i < actions.size(); ++i) damage += predicted(i, actions[i]);
    return damage <= 6.0;
  };
  auto outcome = passes::search::run_progressive(layers, chosen, predicted, true, try_candidate, {});
  REQUIRE(outcome.ok());
  REQUIRE(tried.size() >= 3);
  CHECK(tried[0] == "ffn");        // f0, f1 at b32: 0.5 + 1 = 1.5
  CHECK(tried[1] == "attention");  // + a0, a1 at b32: 1.5 + 1.5 + 2 = 5
  CHECK(tried[2] == "aggressive"); // all at b128: 15, over
  // The aggressive stage changed all five; the most damaging (e, then a1...) go back first.
  // Back to b32/fp32 for the top k: k = 4 leaves f0 at b128 (5 + 0.5 = 5.5 <= 6), k = 3 does not.
  CHECK(outcome->within_budget);
  const auto& a = outcome->actions;
  CHECK(a[4].kind == LayerAction::Kind::kKeepFloat);  // the embedding's previous action was FP32
  CHECK(a[3] == kB32);
  CHECK(a[2] == kB32);
  CHECK(a[1] == kB32);
  CHECK(a[0] == kB128);
  REQUIRE(outcome->stages.size() == 3);
  CHECK(outcome->stages[2].candidates > 1);
}

TEST_CASE("progressive: without back-off (a hard target), stages are measured and the allocation kept") {
  const std::vector<SearchLayer> layers = {layer("f0", Stage::kFfn), layer("a0", Stage::kAttention)};
  const std::vector<LayerAction> chosen(layers.size(), kB128);
  auto predicted = [](size_t, const LayerAction& a) { return a.kind == LayerAction::Kind::kKeepFloat ? 0.0 : 1.0; };
  int calls = 0;
  auto never = [&](const std::string&, const std::vector<LayerAction>&) -> Result<bool> {
    ++calls;
    return false;
  };
  auto outcome = passes::search::run_progressive(layers, chosen, predicted, false, never, {});
  REQUIRE(outcome.ok());
  CHECK(calls == 3);
  CHECK(!outcome->within_budget);
  CHECK(outcome->actions == chosen);
}

}  // namespace ember::progressive_test
