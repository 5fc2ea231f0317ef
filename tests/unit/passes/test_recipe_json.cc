// The recipe file (passes/search/recipe_json.h): every field read, the canonical JSON form
// round-trips, hostile files refused without blocking, and each error names the JSON path.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "formats/json_schema.h"
#include "passes/search/recipe_json.h"
#include "passes/search/recipe_rules.h"
#include "passes/search/recipe_schema.h"

namespace ember::passes {
namespace {

using json = nlohmann::json;
using Kind = LayerAction::Kind;

std::string error_of(const std::string& text) {
  auto r = parse_recipe(text, "t.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  return r.status().message();
}

bool mentions(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return true;
  MESSAGE("message: " << message);
  return false;
}

TEST_CASE("recipe: the sample recipe reads into every field") {
  auto r = read_recipe_file(std::string(EMBER_SOURCE_DIR) + "/samples/recipe-kjv-gpt2.json");
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->target.kind == SearchTarget::Kind::kBitsPerWeight);
  CHECK(r->target.value == 6.5);
  CHECK(r->budget.metric == "bits_per_byte");
  CHECK(r->budget.allowed.value() == doctest::Approx(0.015));
  REQUIRE(r->actions.size() == 3);
  CHECK(r->actions[0].kind == Kind::kInt8);
  CHECK(r->actions[1] == LayerAction{Kind::kInt4, 128, "gptq", 0});
  REQUIRE(r->overrides.size() == 3);
  CHECK(r->overrides[0].name_regex == "attn");
  CHECK(r->overrides[1].op_type == "Gather");
  CHECK(r->overrides[1].actions[0].kind == Kind::kKeepFloat);
  CHECK(r->overrides[2].exclude);  // the exclude list comes last, so it wins
  CHECK(r->calib_limit == 64);
  CHECK(r->holdout_rows == 16);
  CHECK(r->eval_limit == 16);
}

TEST_CASE("recipe: defaults, and the canonical form round-trips") {
  auto empty = parse_recipe(R"({"schema": "ember.recipe/1"})", "t.json");
  REQUIRE(empty.ok());
  CHECK(empty->target.kind == SearchTarget::Kind::kNone);
  CHECK(empty->budget.metric == "auto");
  CHECK(!empty->budget.allowed);
  CHECK(empty->holdout_rows == 32);

  SearchRecipe r;
  r.target = {SearchTarget::Kind::kSizeBytes, 3000000};
  r.budget = {"kl", 0.05};
  r.actions = {{Kind::kKeepFloat, 0, "rtn", 0}, {Kind::kInt4, 64, "awq", 0}, {Kind::kPrune, 0, "rtn", 0.25}};
  r.overrides = {{"^h\\.0\\.", "", false, {{Kind::kInt8, 0, "rtn", 0}}}, {"", "Conv", true, {}}};
  r.quantize_activations = true;
  r.calib_limit = 100;
  r.eval_limit = 7;
  const json j = recipe_to_json(r);
  CHECK(formats::validate_json(j, json::parse(recipe_schema_text())).ok());
  auto back = parse_recipe(j.dump(), "t.json");
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  CHECK(recipe_to_json(*back) == j);
  CHECK(back->actions == r.actions);
  CHECK(back->overrides[1].exclude);
  CHECK(action_name(r.actions[2]) == "prune-0.25");
  CHECK(action_name(r.actions[1]) == "int4-b64-awq");
}

TEST_CASE("recipe: quantities with units") {
  auto size = [](const std::string& s) { return parse_recipe(R"({"schema":"ember.recipe/1","target":{"size":)" + s + "}}", "t"); };
  CHECK(size("\"3MB\"")->target.value == 3000000);
  CHECK(size("\"1.5 KiB\"")->target.value == 1536);
  CHECK(size("\"7.41 MB\"")->target.value == 7410000);
  CHECK(size("123456")->target.value == 123456);
  CHECK(parse_energy_joules("5mJ", "x").value() == doctest::Approx(0.005));
  CHECK(parse_latency_seconds("20 ms", "x").value() == doctest::Approx(0.02));
  CHECK(mentions(parse_size_bytes("3 parsecs", "--target-size").status().message(), "unknown unit 'parsecs'"));
  CHECK(!parse_size_bytes("-3MB", "x").ok());
  CHECK(!parse_size_bytes("", "x").ok());
  auto lat = parse_recipe(R"({"schema":"ember.recipe/1","target":{"latency":"15ms"}})", "t");
  CHECK(lat->target.kind == SearchTarget::Kind::kLatencySeconds);
  CHECK(lat->target.value == doctest::Approx(0.015));
}

TEST_CASE("recipe: errors name the file and the JSON path") {
  CHECK(mentions(error_of("{"), "recipe 't.json': not valid JSON"));
  CHECK(mentions(error_of("[]"), "t.json': /: expected object"));
  CHECK(mentions(error_of(R"({"target": {}})"), "lacks the required key 'schema'"));
  CHECK(mentions(error_of(R"({"schema": "ember.recipe/2"})"), "/schema: expected \"ember.recipe/1\""));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","target":{"size":"3MB","bpw":4}})"), "/target: give one target"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","target":{"size":"3 furlongs"}})"), "/target/size"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","target":{"bpw":0}})"), "/target/bpw"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","budget":{"allowed":-1}})"), "/budget/allowed"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","budget":{"metric":"accuracy","allowed":2}})"), "at most 1"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","budget":{"metric":"bleu"}})"), "/budget/metric"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","actions":[{"kind":"int4"}]})"), "/actions/0: an int4 action needs a block"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","actions":[{"kind":"int4","block":48}]})"), "/actions/0/block"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","actions":[{"kind":"int8","block":32}]})"), "/actions/0/block: only an int4"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","actions":[{"kind":"prune","ratio":1}]})"), "/actions/0/ratio"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","actions":[{"kind":"prune"}]})"), "needs a ratio"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","actions":[{"kind":"int8"},{"kind":"int8"}]})"), "/actions/1: repeats /actions/0"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","overrides":[{"name":"h.(0","exclude":true}]})"),
                 "/overrides/0/name: invalid regular expression 'h.(0'"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","overrides":[{"exclude":true}]})"), "/overrides/0: a rule needs"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","overrides":[{"op":"MatMul"}]})"), "the rule does nothing"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","overrides":[{"op":"MatMul","exclude":true,"actions":[{"kind":"int8"}]}]})"),
                 "not both"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","exclude":[{"op":"Mat Mul"}]})"), "/exclude/0/op"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","calib":{"path":"/etc/passwd"}})"), "/calib/path: is not an allowed key"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","calib":{"limit":1.5}})"), "/calib/limit: expected integer"));
}

TEST_CASE("recipe: hostile values fail cleanly") {
  // A deeply nested value where a string belongs: no recursion per level in the message.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(mentions(error_of(R"({"schema":)" + deep + "}"), "/schema: expected \"ember.recipe/1\", got an array"));
  // A regex whose automaton would be huge is refused, not built.
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","exclude":[{"name":"((a{1000}){1000}){1000}"}]})"), "/exclude/0/name"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","calib":{"limit":1e300}})"), "/calib/limit"));
  // fuzz_recipe's findings (fuzz/regressions/recipe/): a count libstdc++ would overflow, and a
  // size string past the schema's maximum (its canonical form is an int64).
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","exclude":[{"name":"a\\44444444444444444444"}]})"), "more than 6 digits"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","exclude":[{"name":"a{1,44444444444444444444}"}]})"), "more than 6 digits"));
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","target":{"size":"444444444444444444MiB"}})"), "/target/size"));
  CHECK(parse_recipe(R"({"schema":"ember.recipe/1","exclude":[{"name":"h\\\\12345678\\.x{1,2}"}]})", "t").ok());
}

TEST_CASE("recipe: files are size-checked, and only regular files are opened") {
  const auto dir = std::filesystem::temp_directory_path() / ("ember-recipe-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string big = (dir / "big.json").string();
  std::ofstream(big) << "{}";
  std::filesystem::resize_file(big, kMaxRecipeBytes + 1);
  CHECK(mentions(read_recipe_file(big).status().message(), "more than the"));
  const std::string fifo = (dir / "fifo.json").string();
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(mentions(read_recipe_file(fifo).status().message(), "is a FIFO"));  // returns at once, no writer needed
  CHECK(mentions(read_recipe_file(dir.string()).status().message(), "is a directory"));
  CHECK(mentions(read_recipe_file((dir / "missing.json").string()).status().message(), "missing.json"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("recipe rules: the actions each layer may take") {
  auto recipe = read_recipe_file(std::string(EMBER_SOURCE_DIR) + "/samples/recipe-kjv-gpt2.json");
  REQUIRE(recipe.ok());
  auto rules = RecipeRules::compile(*recipe);
  REQUIRE(rules.ok());
  const std::vector<LayerAction> defaults = {LayerAction{Kind::kInt8, 0, "rtn", 0}};
  // No rule matches an FFN layer: the recipe's three actions.
  auto ffn = rules->for_layer("/h.0/mlp/c_fc/MatMul", "h.0.mlp.c_fc.weight", "MatMul", defaults);
  CHECK_FALSE(ffn.excluded);
  CHECK(ffn.actions == recipe->actions);
  // The attention rule matches on the node name.
  auto attn = rules->for_layer("/h.0/attn/c_attn/MatMul", "w", "MatMul", defaults);
  REQUIRE(attn.actions.size() == 2);
  CHECK(attn.actions[1] == LayerAction{Kind::kInt4, 32, "gptq", 0});
  // The op rule, and the exclude list, which comes last and wins; the weight's name matches too.
  CHECK(rules->for_layer("wte", "wte.weight", "Gather", defaults).actions[0].kind == Kind::kKeepFloat);
  auto excluded = rules->for_layer("node_7", "m.lm_head.weight", "MatMul", defaults);  // the weight's name matches
  CHECK(excluded.excluded);
  CHECK(excluded.actions == std::vector<LayerAction>{LayerAction{}});
  // A recipe without actions uses the search's defaults; a huge name never matches a name rule.
  SearchRecipe plain;
  plain.overrides = {{"x", "", true, {}}};
  auto plain_rules = RecipeRules::compile(plain);
  REQUIRE(plain_rules.ok());
  CHECK(plain_rules->for_layer("a", "b", "MatMul", defaults).actions == defaults);
  CHECK(plain_rules->for_layer("x", "b", "MatMul", defaults).excluded);
  CHECK_FALSE(plain_rules->for_layer(std::string(kMaxMatchedName + 1, 'x'), "b", "MatMul", defaults).excluded);
  // A pattern that backtracks exponentially is matched in polynomial time (this would run for
  // minutes with std::regex's default executor), and back-references are refused up front.
  SearchRecipe hostile;
  hostile.overrides = {{"(a*)*b", "", true, {}}};
  auto hostile_rules = RecipeRules::compile(hostile);
  REQUIRE(hostile_rules.ok());
  CHECK_FALSE(hostile_rules->for_layer(std::string(kMaxMatchedName - 1, 'a') + "c", "w", "MatMul", defaults).excluded);
  CHECK(hostile_rules->for_layer("aab", "w", "MatMul", defaults).excluded);
  CHECK(mentions(error_of(R"({"schema":"ember.recipe/1","exclude":[{"name":"(a)\\1"}]})"), "/exclude/0/name"));
  plain.overrides[0].name_regex = "(";
  CHECK(!RecipeRules::compile(plain).ok());
}

}  // namespace
}  // namespace ember::passes
