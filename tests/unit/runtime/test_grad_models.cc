// Whole-model gradients of the shared models against a float64 directional derivative: for a
// random direction v over every weight, sum g.v (f32 backward pass) must match
// (L(w + h v) - L(w - h v)) / 2h with L evaluated by the f64 forward pass. This covers every
// rule on the real gradient paths (GPT-2: Gemm, tied LM head, LayerNorm, Split, Softmax,
// GELU via Pow/Tanh, embeddings; BERT: MatMul + Add, Erf, Gather on activations, Where mask;
// the CNN: Conv, MaxPool, Flatten, Gemm).
#include <filesystem>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "runtime/grad/losses.h"
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {

namespace rg = runtime::grad;

// Cross-entropy in double of rows of f64 logits [rows, classes] against targets.
double cross_entropy64(const Tensor& logits, const std::vector<int64_t>& targets, int64_t classes, int64_t stride_rows) {
  double total = 0;
  int64_t terms = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] < 0) continue;
    const double* row = logits.data<double>() + int64_t(r) * stride_rows * classes;
    double peak = row[0];
    for (int64_t c = 1; c < classes; ++c) peak = std::max(peak, row[c]);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] - peak);
    total += std::log(sum) + peak - row[targets[r]];
    ++terms;
  }
  return total / static_cast<double>(terms);
}

// LM targets per position (the next token; -1 for the last position of each row).
std::vector<int64_t> next_tokens(const Tensor& ids) {
  const int64_t B = ids.dim(0), T = ids.dim(1);
  std::vector<int64_t> t(static_cast<size_t>(B * T), -1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i + 1 < T; ++i) t[size_t(b * T + i)] = ids.data<int64_t>()[b * T + i + 1];
  return t;
}

struct Case {
  std::string model;
  std::map<std::string, Tensor> feeds;
  std::vector<int64_t> targets;  // one per row of logits flattened to [-1, classes]; -1 skips
  bool lm = false;
};

void check_directional_derivative(const Case& c) {
  auto model = formats::load_onnx(c.model);
  REQUIRE(model.ok());
  auto bi = rg::BackwardInterpreter::create(*model);
  REQUIRE(bi.ok());
  auto out = (*bi)->forward(c.feeds);
  REQUIRE(out.ok());
  const Tensor& logits = (*out)[0];
  const int64_t classes = logits.dim(logits.rank() - 1);
  rg::LossValue lv;
  if (c.lm) {
    lv = *rg::lm_cross_entropy(logits, c.feeds.at("input_ids"));
  } else {
    auto l = rg::classification_cross_entropy(logits.reshaped({logits.numel() / classes, classes}), c.targets);
    REQUIRE(l.ok());
    lv = *l;
    lv.grad = lv.grad.reshaped(logits.shape());
  }
  // Direction: N(0, 1) scaled per tensor by its RMS, so every weight moves in proportion.
  std::map<std::string, Tensor> direction;
  double analytic = 0;
  uint32_t seed = 1;
  REQUIRE((*bi)->backward({{(*bi)->output_names()[0], lv.grad}}, [&](const std::string& name, const Tensor& g) {
                const Tensor& w = (*bi)->parameter_value(name);
                double rms = 0;
                for (int64_t i = 0; i < w.numel(); ++i) rms += double(w.data<float>()[i]) * w.data<float>()[i];
                rms = std::sqrt(rms / double(std::max<int64_t>(w.numel(), 1))) + 1e-3;
                Tensor v = random_f32(w.shape(), seed++, static_cast<float>(rms));
                for (int64_t i = 0; i < w.numel(); ++i) analytic += double(g.data<float>()[i]) * v.data<float>()[i];
                direction[name] = v;
                return Status::Ok();
              }).ok());
  REQUIRE(direction.size() > 2);
  const ir::Model m64 = f64_model(*model, {});
  auto loss_at = [&](double h) {
    ir::Model m = m64;
    for (const auto& [name, v] : direction) {
      Tensor w = m.graph.find_initializer(name)->clone();
      for (int64_t i = 0; i < w.numel(); ++i) w.mutable_data<double>()[i] += h * v.data<float>()[i];
      m.graph.set_initializer(name, w);
    }
    auto interp = runtime::Interpreter::create(m);
    REQUIRE(interp.ok());
    std::map<std::string, Tensor> feeds;
    for (const auto& [name, t] : c.feeds) feeds[name] = to_f64(t);
    auto y = (*interp)->run(feeds);
    REQUIRE(y.ok());
    REQUIRE((*y)[0].dtype() == DType::kF64);
    return cross_entropy64((*y)[0], c.lm ? next_tokens(c.feeds.at("input_ids")) : c.targets, classes, 1);
  };
  const double h = 1e-4;
  const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
  INFO(c.model, ": analytic ", analytic, " numeric ", numeric);
  CHECK(std::fabs(analytic - numeric) <= 2e-3 * std::fabs(numeric) + 1e-6);
  CHECK(std::fabs(numeric) > 1e-4);  // the check has teeth: the direction changes the loss
}

}  // namespace

TEST_CASE("grad models: kjv-gpt2-tiny, kjv-bert and digits-cnn match f64 directional derivatives") {
  // kjv-gpt2-tiny and digits-cnn have copies in samples/; kjv-bert only lives in ../shared.
  const std::string samples = std::string(EMBER_SOURCE_DIR) + "/samples";
  {
    std::vector<int64_t> ids(24);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>("In the beginning God cre"[i]);
    check_directional_derivative({samples + "/kjv-gpt2-tiny.onnx",
                                  {{"input_ids", Tensor::from_vector<int64_t>({1, 24}, ids)}}, {}, true});
  }
  {
    auto model = formats::load_onnx(samples + "/digits-cnn.onnx");
    REQUIRE(model.ok());
    auto digits = calibration::CalibrationSet::open(samples + "/digits-calib.npz", model->graph.feed_inputs(), {4, 4});
    REQUIRE(digits.ok());
    check_directional_derivative({samples + "/digits-cnn.onnx", digits->batch(0), digits->batch_labels(0), false});
  }
  const std::string shared = EMBER_SHARED_DIR;
  if (!std::filesystem::exists(shared + "/models/kjv-bert.onnx")) EMBER_SKIP("kjv-bert: " << shared << "/models/kjv-bert.onnx is absent");
  {
    auto model = formats::load_onnx(shared + "/models/kjv-bert.onnx");
    REQUIRE(model.ok());
    auto bert = calibration::CalibrationSet::open(shared + "/data/kjv-cls-calib.npz", model->graph.feed_inputs(), {1, 1});
    REQUIRE(bert.ok());
    check_directional_derivative({shared + "/models/kjv-bert.onnx", bert->batch(0), bert->batch_labels(0), false});
  }
}

}  // namespace ember::grad_test
