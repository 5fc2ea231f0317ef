// Calibration sets for models whose inputs are not all [rows, ...]: a recurrent state whose
// batch is dimension 1 ([layers, batch, hidden], found by the symbolic name of the first
// input's dim 0) and a scalar (a sample rate, fed whole to every batch), as Silero VAD has.
#include <doctest/doctest.h>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "tests/unit/calibration/calib_test_util.h"

namespace ember::calib_test {

TEST_CASE("calibration rows: a state's batch along dimension 1 and a scalar fed to every batch") {
  ScratchDir dir("dataset_axes");
  const std::string path = dir.file("vad.npz");
  std::vector<float> x(5 * 2), h(2 * 5 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
  for (size_t i = 0; i < h.size(); ++i) h[i] = float(100 + i);
  REQUIRE(formats::write_npz(path, {{"x", Tensor::from_vector<float>({5, 2}, x)},
                                    {"h", Tensor::from_vector<float>({2, 5, 3}, h)},
                                    {"sr", Tensor::scalar<int64_t>(16000)}}).ok());
  const ir::ValueInfo in_x = tensor_info("x", DType::kF32, {-1, 2}), in_h = tensor_info("h", DType::kF32, {2, -1, 3}),
                      in_sr = tensor_info("sr", DType::kI64, {});
  CHECK(calibration::calibration_row_axis(in_h, {&in_x, &in_h, &in_sr}) == 1);
  CHECK(calibration::calibration_row_axis(in_sr, {&in_x, &in_h, &in_sr}) == calibration::kWholeInEveryBatch);
  calibration::CalibrationOptions co;
  co.batch = 2;
  auto set = calibration::CalibrationSet::open(path, {&in_x, &in_h, &in_sr}, co);
  REQUIRE_MESSAGE(set.ok(), set.status().message());
  CHECK(set->num_rows() == 5);
  CHECK(set->num_batches() == 3);
  const auto last = set->batch(2);  // row 4 alone
  CHECK(last.at("x").shape() == Shape{1, 2});
  CHECK(last.at("x").data<float>()[0] == 8.0f);
  CHECK(last.at("h").shape() == Shape{2, 1, 3});
  CHECK(last.at("h").data<float>()[0] == 100.0f + 4 * 3);       // layer 0, row 4
  CHECK(last.at("h").data<float>()[3] == 100.0f + 15 + 4 * 3);  // layer 1, row 4
  CHECK(last.at("sr").rank() == 0);
  CHECK(last.at("sr").data<int64_t>()[0] == 16000);
  const auto part = set->batch(0, 1, 1);  // row 1 of the first batch
  CHECK(part.at("h").data<float>()[0] == 100.0f + 3);
  CHECK(part.at("x").data<float>()[1] == 3.0f);
  auto split = set->split_last(2);
  REQUIRE(split.ok());
  CHECK(split->last.batch(0).at("h").shape() == Shape{2, 2, 3});
  CHECK(split->last.batch(0).at("h").data<float>()[0] == 100.0f + 3 * 3);
}

TEST_CASE("calibration rows: with unnamed dims, a fixed dim 0 beside a dynamic first input puts the rows on the first dynamic dim") {
  ir::ValueInfo in_x = test::value_info("input", DType::kF32, {-1, -1}, ""), state = test::value_info("state", DType::kF32, {2, -1, 4}, "");
  ir::ValueInfo fixed = test::value_info("mask", DType::kF32, {1, 8}, "");
  CHECK(calibration::calibration_row_axis(state, {&in_x, &state}) == 1);
  CHECK(calibration::calibration_row_axis(in_x, {&in_x, &state}) == 0);
  CHECK(calibration::calibration_row_axis(fixed, {&in_x, &fixed}) == 0);  // no dynamic dim: rows stay on dim 0
}

TEST_CASE("calibration rows: a scalar input given rows, or states whose row counts differ, are refused naming the input") {
  ScratchDir dir("dataset_axes_bad");
  const ir::ValueInfo in_x = tensor_info("x", DType::kF32, {-1, 2}), in_h = tensor_info("h", DType::kF32, {2, -1, 3}),
                      in_sr = tensor_info("sr", DType::kI64, {});
  REQUIRE(formats::write_npz(dir.file("a.npz"), {{"x", Tensor::zeros(DType::kF32, {4, 2})}, {"h", Tensor::zeros(DType::kF32, {2, 4, 3})},
                                                 {"sr", Tensor::zeros(DType::kI64, {4})}}).ok());
  auto a = calibration::CalibrationSet::open(dir.file("a.npz"), {&in_x, &in_h, &in_sr});
  REQUIRE(!a.ok());
  CHECK(a.status().message().find("'sr'") != std::string::npos);
  CHECK(a.status().message().find("scalar") != std::string::npos);
  REQUIRE(formats::write_npz(dir.file("b.npz"), {{"x", Tensor::zeros(DType::kF32, {4, 2})}, {"h", Tensor::zeros(DType::kF32, {2, 3, 3})},
                                                 {"sr", Tensor::scalar<int64_t>(8000)}}).ok());
  auto b = calibration::CalibrationSet::open(dir.file("b.npz"), {&in_x, &in_h, &in_sr});
  REQUIRE(!b.ok());
  CHECK(b.status().message().find("'h', rows along its dimension 1") != std::string::npos);
}

}  // namespace ember::calib_test
