// quantize-weights with calibration data: GPTQ and AWQ on small graphs whose inputs have the
// structure these methods exploit (correlated channels; channels of very different scale),
// checked against RTN on the same data through the interpreter.
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "calibration/dataset.h"
#include "formats/npy.h"
#include "passes/quantize/weight_quantizer.h"
#include "tests/unit/passes/quantize_test_util.h"

using namespace ember;
using namespace ember::qw_test;

namespace {

// Rows x = z M + noise with a fixed mixing M (seed 100) and per-row latents from `seed`.
Tensor correlated_rows(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 mix_rng(100), rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t latent = 12;
  std::vector<float> m(size_t(latent * k)), x(size_t(n * k), 0.0f);
  for (float& v : m) v = normal(mix_rng);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < latent; ++i) {
      const float z = normal(rng);
      for (int64_t j = 0; j < k; ++j) x[size_t(r * k + j)] += z * m[size_t(i * k + j)];
    }
  for (float& v : x) v += 0.05f * normal(rng);
  return Tensor::from_vector<float>({n, k}, x);
}

struct CalibFile {
  std::string path;
  explicit CalibFile(const Tensor& rows)
      : path((std::filesystem::temp_directory_path() / ("ember_qw_calib_" + std::to_string(::getpid()) + ".npy")).string()) {
    REQUIRE(formats::write_npy(path, rows).ok());
  }
  ~CalibFile() { std::filesystem::remove(path); }
};

ir::Model quantized_with_calib(const ir::Model& model, const Tensor& calib_rows, std::map<std::string, std::string> options,
                               passes::Remarks& remarks, std::vector<passes::QuantizedTensorRecord>& records) {
  CalibFile file(calib_rows);
  auto calib = calibration::CalibrationSet::open(file.path, model.graph.feed_inputs(), {});
  REQUIRE(calib.ok());
  ir::Model m = model;
  passes::WeightQuantization pass(passes::PassOptions("quantize-weights", std::move(options)));
  passes::AnalysisManager analyses(&*calib);
  passes::PassContext ctx(analyses, remarks);
  const Status s = pass.run(m, ctx);
  if (!s.ok()) FAIL(s.message());
  REQUIRE(ir::verify_model(m).ok());
  records = pass.records();
  return m;
}

}  // namespace

TEST_CASE("quantize-weights: gptq beats rtn on correlated layer inputs") {
  const int64_t k = 128;
  const ir::Model model = make_model({node("MatMul", {"x", "w"}, {"y"})}, {-1, k}, {{"w", random_tensor({k, 64}, 21)}});
  const Tensor calib = correlated_rows(256, k, 1);
  const Tensor held_out = correlated_rows(64, k, 2);
  const std::vector<float> ref = run_model(model, held_out);

  passes::Remarks remarks;
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model gptq = quantized_with_calib(model, calib, {{"bits", "4"}, {"method", "gptq"}}, remarks, records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].method == "gptq");
  CHECK(records[0].scheme == "int4 b32 sym gptq");
  CHECK(records[0].output_error >= 0);
  CHECK(find_op(gptq, "DequantizeLinear")->attr_int("block_size", 0) == 32);

  passes::Remarks rtn_remarks;
  std::vector<passes::QuantizedTensorRecord> rtn_records;
  const ir::Model rtn = quantized_with_calib(model, calib, {{"bits", "4"}}, rtn_remarks, rtn_records);
  const double e_gptq = relative_diff(run_model(gptq, held_out), ref);
  const double e_rtn = relative_diff(run_model(rtn, held_out), ref);
  CHECK(e_gptq < 0.8 * e_rtn);

  // Per-channel int8 works the same way (one scale per row, chosen before feedback).
  const ir::Model g8 =
      quantized_with_calib(model, calib, {{"method", "gptq"}, {"calib-rows", "100"}, {"batch", "3"}}, remarks, records);
  CHECK(records[0].scheme == "int8 per-channel sym gptq");
  CHECK(relative_diff(run_model(g8, held_out), ref) < 0.01);
}

TEST_CASE("quantize-weights: awq scales channels and folds 1/s into the LayerNorm") {
  const int64_t k = 64;
  // LayerNorm gammas spread over two decades make a few input channels dominate.
  std::vector<float> gamma(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) gamma[size_t(i)] = i % 8 == 0 ? 8.0f : 0.1f + 0.02f * float(i % 5);
  const ir::Model model =
      make_model({node("LayerNormalization", {"x", "gamma", "beta"}, {"h"}, {int_attr("axis", -1)}), node("MatMul", {"h", "w"}, {"y"})},
                 {-1, k},
                 {{"gamma", Tensor::from_vector<float>({k}, gamma)}, {"beta", random_tensor({k}, 22, 0.1f)},
                  {"w", random_tensor({k, 48}, 23)}});
  const Tensor calib = random_tensor({256, k}, 24, 1.0f);
  const Tensor held_out = random_tensor({64, k}, 25, 1.0f);
  const std::vector<float> ref = run_model(model, held_out);

  passes::Remarks remarks;
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model awq = quantized_with_calib(model, calib, {{"bits", "4"}, {"method", "awq"}}, remarks, records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].method == "awq");
  bool folded = false;
  for (const auto& e : remarks.entries) folded = folded || e.message.find("folded into LayerNormalization") != std::string::npos;
  CHECK(folded);
  CHECK(!awq.graph.find_initializer("gamma")->same_content(*model.graph.find_initializer("gamma")));

  passes::Remarks rtn_remarks;
  std::vector<passes::QuantizedTensorRecord> rtn_records;
  const ir::Model rtn = quantized_with_calib(model, calib, {{"bits", "4"}}, rtn_remarks, rtn_records);
  const double e_awq = relative_diff(run_model(awq, held_out), ref);
  const double e_rtn = relative_diff(run_model(rtn, held_out), ref);
  CHECK(e_awq < e_rtn);
}

TEST_CASE("quantize-weights: awq leaves layers whose input has no foldable producer unscaled") {
  const int64_t k = 64;
  // The MatMul reads the graph input directly: nothing can absorb 1/s.
  const ir::Model model = make_model({node("MatMul", {"x", "w"}, {"y"})}, {-1, k}, {{"w", random_tensor({k, 32}, 26)}});
  passes::Remarks remarks;
  std::vector<passes::QuantizedTensorRecord> records;
  quantized_with_calib(model, random_tensor({64, k}, 27, 1.0f), {{"bits", "4"}, {"method", "awq"}}, remarks, records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].method == "rtn");
  bool noted = false;
  for (const auto& e : remarks.entries) noted = noted || e.message.find("no producer that can absorb") != std::string::npos;
  CHECK(noted);
}
