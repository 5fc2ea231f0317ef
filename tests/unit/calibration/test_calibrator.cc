// Calibrator: runs a calibration set through the interpreter and observes chosen values;
// reports NaN with the value and batch, unsupported operators, and unknown names.
#include <doctest/doctest.h>

#include <cmath>

#include "calibration/calibrator.h"
#include "formats/npy.h"
#include "tests/unit/calibration/calib_test_util.h"

using namespace ember;
using namespace ember::calibration;
using namespace ember::calib_test;

namespace {

// x [batch, 4] -> MatMul(W1) -> y -> Relu -> r -> MatMul(W2) -> out; x -> Sqrt -> sq -> (output)
ir::Model small_model() {
  ir::Model m = empty_model();
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {-1, 4}));
  add_initializer(m, "W1", Tensor::from_vector<float>({4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}));
  add_initializer(m, "W2", Tensor::from_vector<float>({3, 2}, {1, -1, 2, 0, 0, 3}));
  add_initializer(m, "c", Tensor::from_vector<float>({1}, {2}));
  m.graph.nodes.push_back(node("MatMul", "mm1", {"x", "W1"}, {"y"}));
  m.graph.nodes.push_back(node("Relu", "relu", {"y"}, {"r"}));
  m.graph.nodes.push_back(node("Add", "const_add", {"c", "c"}, {"c2"}));  // folded at load
  m.graph.nodes.push_back(node("MatMul", "mm2", {"r", "W2"}, {"mm2_out"}));
  m.graph.nodes.push_back(node("Mul", "scale", {"mm2_out", "c2"}, {"out"}));
  m.graph.nodes.push_back(node("Sqrt", "sqrt", {"x"}, {"sq"}));
  m.graph.outputs.push_back(tensor_info("out", DType::kF32, {-1, 2}));
  m.graph.outputs.push_back(tensor_info("sq", DType::kF32, {-1, 4}));
  return m;
}

Result<CalibrationSet> write_set(const ScratchDir& dir, const std::vector<float>& values, int64_t rows, int64_t batch) {
  const std::string path = dir.file("calib.npy");
  EMBER_TRY(formats::write_npy(path, Tensor::from_vector<float>({rows, 4}, values)));
  const ir::Model m = small_model();
  CalibrationOptions o;
  o.batch = batch;
  return CalibrationSet::open(path, m.graph.feed_inputs(), o);
}

}  // namespace

TEST_CASE("calibrator: default values are the run-time inputs of MatMul, Gemm and Conv") {
  const ir::Model m = small_model();
  CHECK(activation_inputs(m) == std::vector<std::string>{"x", "r"});
  CHECK(activation_inputs(m, {"Mul", "Sqrt"}) == std::vector<std::string>{"mm2_out", "x"});
  const auto constants = constant_values(m.graph);
  CHECK(constants.count("W1"));
  CHECK(constants.count("c2"));
  CHECK_FALSE(constants.count("y"));
}

TEST_CASE("calibrator: observes feeds and intermediates over every batch") {
  ScratchDir dir("calibrator_ok");
  std::vector<float> v;
  for (int i = 0; i < 40 * 4; ++i) v.push_back(static_cast<float>((i * 37) % 23) - 11.0f);
  auto set = write_set(dir, v, 40, 8);
  REQUIRE(set.ok());
  CalibratorOptions o;
  o.values = {"x", "r", "c2"};
  int64_t last_done = 0;
  o.progress = [&](int64_t done, int64_t total) {
    CHECK(total == 5);
    last_done = done;
  };
  auto r = calibrate_values(small_model(), *set, o);
  REQUIRE(r.ok());
  CHECK(last_done == 5);
  CHECK(r->rows == 40);
  CHECK(r->values.at("x").tensor.min == -11);
  CHECK(r->values.at("x").tensor.max == 11);
  CHECK(r->values.at("x").count == 160);
  CHECK(r->values.at("r").tensor.min == 0);  // after Relu
  CHECK(r->values.at("r").tensor.max > 0);
  CHECK(r->skipped.count("c2"));  // constant, folded when the model loads

  const CalibrationTable table = make_calibration_table(*r, o.observer, *set);
  CHECK(table.calibration_rows == 40);
  CHECK(table.calibration_hash == set->content_hash());
  CHECK(table.values.count("x"));

  o.max_rows = 10;  // stops after the batch that reaches 10 rows
  auto partial = calibrate_values(small_model(), *set, o);
  REQUIRE(partial.ok());
  CHECK(partial->rows == 16);
  CHECK(partial->batches == 2);
}

TEST_CASE("calibrator: NaN names the value and the batch") {
  ScratchDir dir("calibrator_nan");
  std::vector<float> v(24 * 4, 1.0f);
  v[static_cast<size_t>(17 * 4 + 2)] = -4.0f;  // row 17: Sqrt gives NaN there
  auto set = write_set(dir, v, 24, 8);
  REQUIRE(set.ok());
  CalibratorOptions o;
  o.values = {"sq"};
  auto r = calibrate_values(small_model(), *set, o);
  REQUIRE_FALSE(r.ok());
  const std::string msg = r.status().message();
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(msg.find("'sq'") != std::string::npos);
  CHECK(msg.find("NaN") != std::string::npos);
  CHECK(msg.find("batch 2") != std::string::npos);
  CHECK(msg.find("rows 16..23") != std::string::npos);

  v[static_cast<size_t>(17 * 4 + 2)] = INFINITY;  // inf in the feed itself
  auto set2 = write_set(dir, v, 24, 8);
  REQUIRE(set2.ok());
  o.values = {"x"};
  auto r2 = calibrate_values(small_model(), *set2, o);
  CHECK(r2.status().message().find("'x' holds inf") != std::string::npos);
}

TEST_CASE("calibrator: unsupported operators and unknown names") {
  ScratchDir dir("calibrator_errors");
  auto set = write_set(dir, std::vector<float>(8 * 4, 1.0f), 8, 8);
  REQUIRE(set.ok());
  ir::Model m = small_model();
  m.graph.nodes.push_back(node("TotallyCustomOp", "custom", {"sq"}, {"custom_out"}));
  m.graph.outputs.push_back(tensor_info("custom_out", DType::kF32, {-1, 4}));
  CalibratorOptions o;
  o.values = {"x"};
  auto r = calibrate_values(m, *set, o);
  CHECK(r.status().code() == StatusCode::kUnsupported);
  CHECK(r.status().message().find("TotallyCustomOp") != std::string::npos);
  CHECK(r.status().message().find("still works") != std::string::npos);

  o.values = {"no_such_value"};
  auto unknown = calibrate_values(small_model(), *set, o);
  CHECK(unknown.status().code() == StatusCode::kInvalidInput);
  CHECK(unknown.status().message().find("no_such_value") != std::string::npos);
}
