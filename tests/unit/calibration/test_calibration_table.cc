// Calibration tables: affine parameters, deterministic JSON that round-trips, conformance to
// schemas/calibration_table.schema.json, and errors that name the bad key.
#include <doctest/doctest.h>

#include <cfloat>
#include <fstream>

#include "calibration/table.h"
#include "tests/unit/calibration/calib_test_util.h"
#include "tests/unit/calibration/json_schema_lite.h"

using namespace ember;
using namespace ember::calibration;
using namespace ember::calib_test;
using nlohmann::json;

namespace {

CalibrationTable sample_table() {
  CalibrationTable t;
  t.method = "percentile";
  t.percentile = 99.99;
  t.model = "model.onnx";
  t.calibration_source = "calib.npy";
  t.calibration_hash = "sha256:" + std::string(64, 'a');
  t.calibration_rows = 64;
  ObserverResult a;
  a.count = 100;
  a.tensor = {-1.5, 3.25, -1.25, 3.0};
  t.values["layer_norm"] = make_table_entry(a, CalibrationMethod::kPercentile);
  ObserverResult b;
  b.count = 12;
  b.tensor = {0, 6, 0, 6};
  b.channel_axis = -1;
  b.channels = {{0, 1, 0, 1}, {0, 6, 0, 5.5}, {0, 0, 0, 0}};
  t.values["relu"] = make_table_entry(b, CalibrationMethod::kPercentile);
  return t;
}

json load_schema() {
  std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/schemas/calibration_table.schema.json");
  REQUIRE(in.good());
  return json::parse(in);
}

}  // namespace

TEST_CASE("table: affine parameters for u8 and s8") {
  AffineParams p = affine_params(-1, 3, DType::kU8);
  CHECK(p.scale == doctest::Approx(4.0 / 255));
  CHECK(p.zero_point == 64);  // round(63.75)
  p = affine_params(-1, 3, DType::kI8);
  CHECK(p.zero_point == -64);  // round(-128 + 63.75)
  p = affine_params(0, 6, DType::kU8);
  CHECK(p.scale == doctest::Approx(6.0 / 255));
  CHECK(p.zero_point == 0);
  CHECK(affine_params(0, 6, DType::kI8).zero_point == -128);
  CHECK(affine_params(-6, 0, DType::kU8).zero_point == 255);
  CHECK(affine_params(-6, 0, DType::kI8).zero_point == 127);
  // A range without zero is widened to contain it.
  CHECK(affine_params(2, 4, DType::kU8).zero_point == 0);
  CHECK(affine_params(2, 4, DType::kU8).scale == doctest::Approx(4.0 / 255));
  // Degenerate ranges still give a usable positive, finite scale.
  p = affine_params(0, 0, DType::kU8);
  CHECK(p.scale == 1.0f);
  CHECK(p.zero_point == 0);
  p = affine_params(-FLT_MAX, FLT_MAX, DType::kU8);
  CHECK(std::isfinite(p.scale));
  CHECK(p.scale > 0);
  p = affine_params(-1e-44, 1e-44, DType::kI8);
  CHECK(p.scale >= FLT_MIN);
  CHECK(p.zero_point >= -128);
  CHECK(p.zero_point <= 127);
}

TEST_CASE("table: JSON round trip is exact and the text is deterministic") {
  const CalibrationTable t = sample_table();
  const std::string text = table_to_text(t);
  auto back = table_from_json(json::parse(text), "mem");
  REQUIRE(back.ok());
  CHECK(table_to_text(*back) == text);
  const TableEntry* relu = back->find("relu");
  REQUIRE(relu);
  REQUIRE(relu->channels.size() == 3);
  CHECK(relu->channels[1].clip_hi == 5.5);
  CHECK(relu->channels_u8[1].scale == t.values.at("relu").channels_u8[1].scale);
  CHECK(relu->channel_axis == -1);
  CHECK(back->find("layer_norm")->u8.zero_point == t.values.at("layer_norm").u8.zero_point);
  CHECK(*back->percentile == 99.99);

  // Same content built in another order: the same bytes.
  CalibrationTable reordered;
  reordered.values["relu"] = t.values.at("relu");
  reordered.values["layer_norm"] = t.values.at("layer_norm");
  reordered.method = t.method;
  reordered.percentile = t.percentile;
  reordered.model = t.model;
  reordered.calibration_source = t.calibration_source;
  reordered.calibration_hash = t.calibration_hash;
  reordered.calibration_rows = t.calibration_rows;
  CHECK(table_to_text(reordered) == text);
}

TEST_CASE("table: output conforms to the JSON Schema, and the checker rejects broken tables") {
  SchemaChecker checker(load_schema());
  const json good = table_to_json(sample_table());
  const auto errors = checker.check(good);
  for (const auto& e : errors) FAIL_CHECK(e);
  CHECK(errors.empty());

  json missing = good;
  missing["values"]["relu"].erase("u8");
  CHECK_FALSE(checker.check(missing).empty());
  json bad_zp = good;
  bad_zp["values"]["layer_norm"]["u8"]["zero_point"] = 300;
  CHECK_FALSE(checker.check(bad_zp).empty());
  json bad_method = good;
  bad_method["method"] = "kl";
  CHECK_FALSE(checker.check(bad_method).empty());
}

TEST_CASE("table: save and load through a file, errors name the key") {
  ScratchDir dir("calib_table");
  const std::string path = dir.file("table.json");
  REQUIRE(save_table(sample_table(), path).ok());
  auto loaded = load_table(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->values.size() == 2);

  json broken = table_to_json(sample_table());
  broken["values"]["relu"].erase("clip_hi");
  auto r = table_from_json(broken, "t.json");
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(r.status().message().find("t.json") != std::string::npos);
  CHECK(r.status().message().find("values['relu']") != std::string::npos);
  CHECK(r.status().message().find("clip_hi") != std::string::npos);

  json bad_zp = table_to_json(sample_table());
  bad_zp["values"]["layer_norm"]["s8"]["zero_point"] = 200;
  CHECK(table_from_json(bad_zp, "t.json").status().message().find("zero_point") != std::string::npos);

  std::ofstream(dir.file("junk.json")) << "{ not json";
  CHECK(load_table(dir.file("junk.json")).status().code() == StatusCode::kInvalidInput);
  CHECK(load_table(dir.file("absent.json")).status().code() == StatusCode::kInvalidInput);
}
