// The small JSON Schema validator (formats/json_schema.h) that checks manifests and recipes.
#include <doctest/doctest.h>

#include <limits>

#include "formats/json_schema.h"

namespace ember::formats {
namespace {

using json = nlohmann::json;

TEST_CASE("json schema: the supported keywords, and unknown ones are refused") {
  const json schema = {{"type", "object"},
                       {"required", {"a"}},
                       {"properties", {{"a", {{"type", "integer"}, {"minimum", 1}}}, {"b", {{"enum", {"x", "y"}}}},
                                       {"c", {{"type", "array"}, {"items", {{"type", "string"}, {"pattern", "^[a-z]+$"}}}}}}},
                       {"additionalProperties", false}};
  CHECK(validate_json({{"a", 2}, {"b", "x"}, {"c", {"ok"}}}, schema).ok());
  CHECK(!validate_json({{"a", 0}}, schema).ok());
  CHECK(!validate_json({{"a", 1}, {"b", "z"}}, schema).ok());
  CHECK(validate_json({{"a", 1}, {"c", {"OK"}}}, schema).message().find("/c/0") != std::string::npos);
  CHECK(!validate_json({{"a", 1}, {"d", 1}}, schema).ok());
  CHECK(!validate_json({{"b", "x"}}, schema).ok());
  CHECK(validate_json(1, {{"oneOf", json::array()}}).code() == StatusCode::kInternal);
}

TEST_CASE("json schema: exclusive bounds") {
  const json schema = {{"type", "number"}, {"exclusiveMinimum", 0}, {"exclusiveMaximum", 1}};
  CHECK(validate_json(0.5, schema).ok());
  CHECK(validate_json(0, schema).message().find("must be above 0") != std::string::npos);
  CHECK(validate_json(1, schema).message().find("must be below 1") != std::string::npos);
}

TEST_CASE("json schema: integers written as floats, and floats far outside int64") {
  const json schema = {{"type", "integer"}};
  CHECK(validate_json(json(2.0), schema).ok());
  CHECK(!validate_json(json(2.5), schema).ok());
  CHECK(validate_json(json(1e300), schema).ok());  // whole, and no undefined cast on the way
  CHECK(!validate_json(json(std::numeric_limits<double>::infinity()), schema).ok());
}

}  // namespace
}  // namespace ember::formats
