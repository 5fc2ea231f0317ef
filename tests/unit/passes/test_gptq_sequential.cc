// GPTQ with the calibration run one block of layers at a time (passes/quantize/block_stream.h):
// fed with the float model's values it must give exactly the weights of the whole-model run;
// fed with the quantized blocks' outputs it must still be GPTQ-quality. The graph crosses
// blocks with a residual and a weight read in two blocks.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <unistd.h>

#include "calibration/dataset.h"
#include "formats/npy.h"
#include "passes/quantize/weight_quantizer.h"
#include "tests/unit/passes/quantize_test_util.h"

using namespace ember;
using namespace ember::qw_test;

namespace {

// Rows x = z M + noise: channels correlated through 12 latents.
Tensor correlated(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 mix_rng(7), rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(size_t(12 * k)), x(size_t(n * k), 0.0f);
  for (float& v : m) v = normal(mix_rng);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < 12; ++i) {
      const float z = normal(rng);
      for (int64_t j = 0; j < k; ++j) x[size_t(r * k + j)] += z * m[size_t(i * k + j)];
    }
  for (float& v : x) v += 0.05f * normal(rng);
  return Tensor::from_vector<float>({n, k}, x);
}

// x -> MatMul w1 -> Relu -> MatMul w2 -> + x -> MatMul w2 -> Relu -> MatMul w3 -> y
ir::Model three_layers() {
  const int64_t k = 128;
  return make_model({node("MatMul", {"x", "w1"}, {"h1"}), node("Relu", {"h1"}, {"r1"}), node("MatMul", {"r1", "w2"}, {"h2"}),
                     node("Add", {"h2", "x"}, {"a"}), node("MatMul", {"a", "w2"}, {"b"}), node("Relu", {"b"}, {"r2"}),
                     node("MatMul", {"r2", "w3"}, {"y"})},
                    {-1, k}, {{"w1", random_tensor({k, k}, 1, 0.1f)}, {"w2", random_tensor({k, k}, 2, 0.1f)}, {"w3", random_tensor({k, 64}, 3)}});
}

struct Quantized {
  ir::Model model;
  std::vector<passes::QuantizedTensorRecord> records;
  passes::Remarks remarks;
};

Quantized quantize(const ir::Model& model, const Tensor& rows, std::map<std::string, std::string> options) {
  const std::string path = (std::filesystem::temp_directory_path() / ("ember_gptq_seq_" + std::to_string(::getpid()) + ".npy")).string();
  REQUIRE(formats::write_npy(path, rows).ok());
  auto calib = calibration::CalibrationSet::open(path, model.graph.feed_inputs(), {});
  std::filesystem::remove(path);
  REQUIRE(calib.ok());
  Quantized q{model, {}, {}};
  passes::WeightQuantization pass(passes::PassOptions("quantize-weights", std::move(options)));
  passes::AnalysisManager analyses(&*calib);
  passes::PassContext ctx(analyses, q.remarks);
  const Status s = pass.run(q.model, ctx);
  if (!s.ok()) FAIL(s.message());
  REQUIRE(ir::verify_model(q.model).ok());
  q.records = pass.records();
  return q;
}

std::map<std::string, std::string> gptq(const std::string& sequential) {
  return {{"bits", "4"}, {"method", "gptq"}, {"sequential", sequential}, {"block-mb", "0.01"}, {"calib-rows", "200"}};
}

}  // namespace

TEST_CASE("gptq sequential=fp32: one block at a time gives the whole-model run's weights") {
  const ir::Model model = three_layers();
  const Tensor calib = correlated(256, 128, 11);
  const Quantized whole = quantize(model, calib, gptq("off"));
  const Quantized blocks = quantize(model, calib, gptq("fp32"));
  CHECK(blocks.remarks.stats.at("quantize-weights").at("sequential-blocks") == 3);
  REQUIRE(whole.records.size() == 3);
  REQUIRE(blocks.records.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(blocks.records[i].name == whole.records[i].name);
    CHECK(blocks.records[i].method == "gptq");
    CHECK(blocks.records[i].output_error == whole.records[i].output_error);
  }
  REQUIRE(blocks.model.graph.initializers.size() == whole.model.graph.initializers.size());
  for (const auto& [name, t] : whole.model.graph.initializers) {
    CAPTURE(name);
    REQUIRE(blocks.model.graph.initializers.count(name));
    CHECK(blocks.model.graph.initializers.at(name).same_content(t));
  }
}

TEST_CASE("gptq sequential=quantized: blocks fed with the quantized blocks' outputs") {
  const ir::Model model = three_layers();
  const Tensor calib = correlated(256, 128, 11), held_out = correlated(64, 128, 12);
  const std::vector<float> ref = run_model(model, held_out, false);
  const Quantized fp32 = quantize(model, calib, gptq("fp32"));
  const Quantized seq = quantize(model, calib, gptq("quantized"));
  const Quantized rtn = quantize(model, calib, {{"bits", "4"}});
  REQUIRE(seq.records.size() == 3);
  for (const auto& r : seq.records) CHECK(r.method == "gptq");
  // The first block reads the calibration feeds in both modes; later ones see quantized inputs.
  const auto& init = [](const Quantized& q, const std::string& name) { return q.model.graph.initializers.at(name); };
  CHECK(init(seq, "w1_quantized").same_content(init(fp32, "w1_quantized")));
  CHECK_FALSE(init(seq, "w3_quantized").same_content(init(fp32, "w3_quantized")));
  const double e_seq = relative_diff(run_model(seq.model, held_out, false), ref);
  const double e_rtn = relative_diff(run_model(rtn.model, held_out, false), ref);
  CHECK(e_seq < 0.8 * e_rtn);
}

TEST_CASE("gptq sequential: bad option values are refused") {
  const ir::Model model = three_layers();
  ir::Model m = model;
  passes::Remarks remarks;
  passes::AnalysisManager analyses(nullptr);
  passes::PassContext ctx(analyses, remarks);
  for (auto [key, value] : {std::pair{"sequential", "maybe"}, std::pair{"block-mb", "0"}, std::pair{"block-mb", "-1"}}) {
    CAPTURE(key);
    passes::WeightQuantization pass(passes::PassOptions("quantize-weights", {{"method", "gptq"}, {key, value}}));
    const Status s = pass.run(m, ctx);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find(key) != std::string::npos);
  }
}
