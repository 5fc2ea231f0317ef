// Importance (passes/analysis): scores recomputed by hand from the gradients, structure
// detection (FFN neurons, attention heads) on built graphs and on GPT-2, the JSON schema,
// and the input errors (a loss that does not fit, missing labels, ops without rules).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "formats/onnx_load.h"
#include "passes/analysis/importance.h"
#include "passes/analysis/importance_json.h"
#include "runtime/grad/importance_rows.h"
#include "passes/analysis/quant_sensitivity.h"
#include "passes/quantize/quant_math.h"
#include "runtime/cpu.h"
#include "runtime/grad/backward_interpreter.h"
#include "runtime/grad/losses.h"
#include "tests/unit/calibration/json_schema_lite.h"
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::importance_test {

using namespace grad_test;
namespace pa = passes::analysis;
namespace rg = runtime::grad;

namespace {

// Opens `path` as the CLI does (batch capped by the model's fixed output dims) and scores it.
Result<pa::ImportanceReport> score(const ir::Model& m, const std::string& path, const pa::ImportanceOptions& options,
                                   int64_t batch = 8, int64_t limit = 0) {
  calibration::CalibrationOptions co;
  co.batch = pa::importance_batch_rows(m.graph, batch);
  co.limit = limit;
  EMBER_ASSIGN_OR_RETURN(auto set, calibration::CalibrationSet::open(path, m.graph.feed_inputs(), co));
  return pa::compute_importance(m, set, options);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_importance_" + name)).string();
}

// x [n, 6] -> Gemm(w1 [6, 5], b1) -> Relu -> Gemm(w2 [3, 5] transposed, b2) -> logits [n, 3]
ir::Model mlp() {
  ir::Model m = make_graph_model({make_node("Gemm", {"x", "w1", "b1"}, {"h"}), make_node("Relu", {"h"}, {"a"}),
                                  make_node("Gemm", {"a", "w2", "b2"}, {"logits"}, {int_attr("transB", 1)})},
                                 {{"x", random_f32({4, 6}, 1), Role::kFeed}, {"w1", random_f32({6, 5}, 2)},
                                  {"b1", random_f32({5}, 3)}, {"w2", random_f32({3, 5}, 4)}, {"b2", random_f32({3}, 5)}},
                                 {"logits"});
  m.graph.inputs[0].elem_type = DType::kF32;
  m.graph.inputs[0].has_shape = true;
  m.graph.inputs[0].dims = {{-1, "n"}, {6, ""}};
  m.graph.outputs[0].elem_type = DType::kF32;
  m.graph.outputs[0].has_shape = true;
  m.graph.outputs[0].dims = {{-1, "n"}, {3, ""}};
  return m;
}

// Node `at` becomes ScatterElements(input, [[0]], [[0.5]], reduction=max) named `name`: a
// configuration that runs but has no backward rule (the rule covers none and add).
void make_unruled(ir::Model& m, size_t at, const std::string& input, const std::string& name) {
  m.graph.nodes[at] = make_node("ScatterElements", {input, "cut_idx", "cut_upd"}, m.graph.nodes[at].outputs,
                                {test::string_attr("reduction", "max")});
  m.graph.nodes[at].name = name;
  m.graph.set_initializer("cut_idx", Tensor::from_vector<int64_t>({1, 1}, {0}));
  m.graph.set_initializer("cut_upd", Tensor::from_vector<float>({1, 1}, {0.5f}));
}

const pa::TensorImportance& find(const pa::ImportanceReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return r.tensors.front();
}

}  // namespace

TEST_CASE("importance: Taylor, Fisher and quantization noise match the gradients of one batch") {
  const ir::Model m = mlp();
  const Tensor x = random_f32({4, 6}, 11);
  const std::vector<int64_t> labels = {0, 2, 1, 2};
  const std::string data = temp_path("mlp.npz");
  REQUIRE(formats::write_npz(data, {{"x", x}, {"labels", Tensor::from_vector<int64_t>({4}, labels)}}).ok());
  pa::ImportanceOptions options;
  options.bf16_products = false;  // the f32 gradients below, exactly
  // One batch of 4: every score is a closed form of that batch's gradient.
  auto report = score(m, data, options, 4);
  REQUIRE(report.ok());
  CHECK(report->loss == "ce");
  CHECK(report->batches == 1);

  // The same gradients, directly.
  auto bi = runtime::grad::BackwardInterpreter::create(m);
  REQUIRE(bi.ok());
  auto out = (*bi)->forward({{"x", x}});
  REQUIRE(out.ok());
  auto loss = runtime::grad::classification_cross_entropy((*out)[0], labels);
  REQUIRE(loss.ok());
  CHECK(report->mean_loss == doctest::Approx(loss->loss));
  std::map<std::string, Tensor> g;
  REQUIRE((*bi)->backward({{"logits", loss->grad}}, [&](const std::string& n, const Tensor& t) {
                g[n] = t.clone();
                return Status::Ok();
              }).ok());
  const float* g1 = g.at("w1").data<float>();
  const float* w1 = m.graph.find_initializer("w1")->data<float>();
  const float* gb1 = g.at("b1").data<float>();
  const float* b1 = m.graph.find_initializer("b1")->data<float>();
  const float* g2 = g.at("w2").data<float>();
  const float* w2 = m.graph.find_initializer("w2")->data<float>();
  const pa::TensorImportance& t1 = find(*report, "w1");
  double total = 0;
  for (int i = 0; i < 30; ++i) total += double(g1[i]) * w1[i];
  CHECK(t1.taylor == doctest::Approx(std::fabs(total)));
  // w1 is [K=6, N=5]: neuron n is column n, plus its bias, plus its input column of w2 ([3, 5],
  // transB); Relu then Gemm make it an FFN neuron.
  CHECK(t1.groups.kind == pa::GroupKind::kFfnNeuron);
  REQUIRE(t1.groups.taylor.size() == 5);
  const double terms = 4;  // rows averaged by the loss
  for (int n = 0; n < 5; ++n) {
    double s = double(gb1[n]) * b1[n], removal = 0.5 * terms * gb1[n] * gb1[n] * b1[n] * b1[n];
    for (int k = 0; k < 6; ++k) {
      s += double(g1[k * 5 + n]) * w1[k * 5 + n];
      removal += 0.5 * terms * g1[k * 5 + n] * g1[k * 5 + n] * w1[k * 5 + n] * w1[k * 5 + n];
    }
    CHECK(t1.groups.taylor_first[size_t(n)] == doctest::Approx(std::fabs(s)));
    CHECK(t1.groups.fisher_first[size_t(n)] == doctest::Approx(removal));
    for (int o = 0; o < 3; ++o) {
      s += double(g2[o * 5 + n]) * w2[o * 5 + n];
      removal += 0.5 * terms * g2[o * 5 + n] * g2[o * 5 + n] * w2[o * 5 + n] * w2[o * 5 + n];
    }
    CHECK(t1.groups.taylor[size_t(n)] == doctest::Approx(std::fabs(s)));
    CHECK(t1.groups.fisher[size_t(n)] == doctest::Approx(removal));
  }
  // INT4 block 32 noise: sum F dw^2 with F = terms * g^2, in the [N, K] canonical layout.
  pa::Layer layer;
  layer.shape = {6, 5};
  layer.channels = 5;
  layer.reduction = 6;
  layer.channel_axis = 1;
  const std::vector<float> cw = pa::canonical_matrix(layer, w1);
  passes::quant::QuantFormat f4;
  f4.bits = 4;
  const std::vector<float> dq = passes::quant::quantize_rtn(cw.data(), 5, 6, 32, f4, passes::quant::ClipMode::kNone).dequantize();
  double noise = 0, first = 0;
  for (int n = 0; n < 5; ++n)
    for (int k = 0; k < 6; ++k) {
      const double d = dq[size_t(n * 6 + k)] - w1[k * 5 + n];
      noise += terms * g1[k * 5 + n] * g1[k * 5 + n] * d * d;
      first += g1[k * 5 + n] * d;
    }
  bool found = false;
  for (const auto& c : t1.candidates)
    if (c.precision == "int4" && c.block == 32) {
      found = true;
      // dw is rebuilt from the codes and scales exactly as the quantizer dequantizes.
      CHECK(c.noise == doctest::Approx(noise).epsilon(1e-5));
      CHECK(c.first_order == doctest::Approx(first).epsilon(1e-5));
      CHECK(c.predicted_loss_increase == doctest::Approx(first + noise / 2).epsilon(1e-2));
    }
  CHECK(found);
  // The classifier layer feeds no further layer: plain output channels, stored [N, K] (transB).
  CHECK(find(*report, "w2").groups.kind == pa::GroupKind::kOutputChannel);
  CHECK(find(*report, "b1").candidates.empty());

  // The JSON follows its schema.
  std::ifstream schema_file(std::string(EMBER_SOURCE_DIR) + "/schemas/importance.schema.json");
  REQUIRE(schema_file.good());
  calib_test::SchemaChecker checker(nlohmann::json::parse(schema_file));
  const auto errors = checker.check(pa::importance_to_json(*report, "mlp.onnx"));
  for (const auto& e : errors) INFO(e);
  CHECK(errors.empty());
  std::filesystem::remove(data);
}

TEST_CASE("importance row kernel: AVX2 matches the scalar reference at odd sizes") {
  if (!runtime::isa_supported(runtime::IsaLevel::kAvx2)) return;
  for (int64_t n : {1, 3, 8, 17, 31, 129, 1536}) {
    for (bool columns : {false, true}) {
      INFO("n = ", n, ", column-major ", columns);
      const Tensor g = random_f32({n}, 1), w = random_f32({n}, 2);
      const Tensor s8 = random_f32({n}, 3, 0.01f), s32 = random_f32({n}, 4, 0.1f), s128 = random_f32({n}, 5, 0.1f);
      std::vector<int8_t> q8(static_cast<size_t>(n));
      std::vector<uint8_t> q4(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        q8[size_t(i)] = static_cast<int8_t>((i * 37) % 255 - 127);
        q4[size_t(i)] = static_cast<uint8_t>((i * 11 + 3) % 256);  // every nibble, both signs
      }
      // Per-column sums with per-element scales (a column-major row) or with the row's own
      // scales (a row-major second layer whose input channels are summed).
      rg::RowCandidates cand{q8.data(), q4.data(), s8.data<float>(), s32.data<float>(), s128.data<float>(), columns};
      rg::RowCandidates row_scales = cand;
      row_scales.per_element_scales = false;
      for (const rg::RowCandidates* c : {static_cast<const rg::RowCandidates*>(nullptr), static_cast<const rg::RowCandidates*>(&cand),
                                         static_cast<const rg::RowCandidates*>(&row_scales)}) {
        std::vector<float> col_a(size_t(n), 0.5f), col_b(size_t(n), 0.25f), ref_a = col_a, ref_b = col_b;
        float* fa = columns ? col_a.data() : nullptr;
        float* fb = columns ? col_b.data() : nullptr;
        const rg::RowSums fast = rg::accumulate_row_avx2(g.data<float>(), w.data<float>(), c, n, fa, fb);
        const rg::RowSums ref = rg::accumulate_row_scalar(g.data<float>(), w.data<float>(), c, n,
                                                          columns ? ref_a.data() : nullptr, columns ? ref_b.data() : nullptr);
        // Signed sums cancel: compare them on the scale of their terms, not of the result.
        CHECK(fast.gw == doctest::Approx(ref.gw).epsilon(1e-5).scale(1.0));
        CHECK(fast.g2 == doctest::Approx(ref.g2).epsilon(1e-5));
        CHECK(fast.g2w2 == doctest::Approx(ref.g2w2).epsilon(1e-5));
        for (int k = 0; k < rg::kMaxRowCandidates; ++k) {
          CHECK(fast.gd[k] == doctest::Approx(ref.gd[k]).epsilon(1e-5).scale(1.0));
          CHECK(fast.g2d2[k] == doctest::Approx(ref.g2d2[k]).epsilon(1e-5));
          if (!c) CHECK(fast.gd[k] == 0.0);
        }
        for (int64_t i = 0; i < n; ++i) {
          CHECK(col_a[size_t(i)] == doctest::Approx(ref_a[size_t(i)]).epsilon(1e-6));
          CHECK(col_b[size_t(i)] == doctest::Approx(ref_b[size_t(i)]).epsilon(1e-6));
        }
      }
    }
  }
}

TEST_CASE("importance row kernel: the reference rebuilds dw from signed codes and the scale of each block") {
  // A row-major row of 160 weights: one INT8 scale, blocks of 32 and 128 along the row.
  const int64_t n = 160;
  std::vector<float> g(size_t(n), 1.0f), w(size_t(n), 0.0f), s8{0.5f}, s32{1, 2, 3, 4, 5}, s128{10, 20};
  std::vector<int8_t> q8(size_t(n), -2);
  std::vector<uint8_t> q4(size_t(n), 0xf1);  // block 32: +1, block 128: -1
  rg::RowCandidates cand{q8.data(), q4.data(), s8.data(), s32.data(), s128.data()};
  const rg::RowSums r = rg::accumulate_row_scalar(g.data(), w.data(), &cand, n, nullptr, nullptr);
  CHECK(r.gd[0] == doctest::Approx(-1.0 * n));
  CHECK(r.gd[1] == doctest::Approx(32.0 * (1 + 2 + 3 + 4 + 5)));
  CHECK(r.gd[2] == doctest::Approx(-(128.0 * 10 + 32.0 * 20)));
  if (runtime::isa_supported(runtime::IsaLevel::kAvx2)) {
    const rg::RowSums f = rg::accumulate_row_avx2(g.data(), w.data(), &cand, n, nullptr, nullptr);
    for (int k = 0; k < rg::kMaxRowCandidates; ++k) CHECK(f.gd[k] == doctest::Approx(r.gd[k]));
  }
}

TEST_CASE("importance: losses that do not fit the model are input errors") {
  const ir::Model m = mlp();
  const std::string unlabeled = temp_path("unlabeled.npz");
  REQUIRE(formats::write_npz(unlabeled, {{"x", random_f32({4, 6}, 1)}}).ok());
  pa::ImportanceOptions options;
  options.loss = pa::ImportanceLoss::kLanguageModel;
  auto lm = score(m, unlabeled, options);
  CHECK(lm.status().code() == StatusCode::kInvalidInput);
  CHECK(lm.status().message().find("lm") != std::string::npos);
  options.loss = pa::ImportanceLoss::kCrossEntropy;
  auto ce = score(m, unlabeled, options);
  CHECK(ce.status().code() == StatusCode::kInvalidInput);
  CHECK(ce.status().message().find("labels") != std::string::npos);
  // Without labels, auto takes the model's own predictions; pseudo and mse run as well.
  for (auto loss : {pa::ImportanceLoss::kAuto, pa::ImportanceLoss::kPseudoLabel, pa::ImportanceLoss::kMse}) {
    options.loss = loss;
    auto r = score(m, unlabeled, options);
    REQUIRE(r.ok());
    CHECK(r->loss == (loss == pa::ImportanceLoss::kMse ? "mse" : "pseudo"));
    CHECK(find(*r, "w1").fisher_sum > 0);
  }
  std::filesystem::remove(unlabeled);
}

TEST_CASE("importance: an op without a backward rule cuts the path, and the weights above it are reported unscored") {
  ir::Model m = mlp();
  make_unruled(m, 1, "h", "act");
  const std::string data = temp_path("sin.npz");
  REQUIRE(formats::write_npz(data, {{"x", random_f32({4, 6}, 1)}}).ok());
  auto r = score(m, data, {});
  REQUIRE(r.ok());
  REQUIRE(r->gradient_cuts.size() == 1);
  CHECK(r->gradient_cuts[0].node == "act");
  CHECK(r->gradient_cuts[0].op_type == "ScatterElements");
  CHECK(r->gradient_cuts[0].weights == std::vector<std::string>{"b1", "w1"});
  CHECK(r->unscored_weights == std::vector<std::string>{"w1", "b1"});
  CHECK(find(*r, "w2").fisher_sum > 0);  // the layer below the cut is still scored
  for (const auto& t : r->tensors) CHECK((t.name == "w2" || t.name == "b2"));
  const nlohmann::json j = pa::importance_to_json(*r, "mlp.onnx");
  CHECK(j["gradient_cuts"][0]["node"] == "act");
  // With every weight behind cuts, nothing can be scored: unsupported, naming the node.
  make_unruled(m, 2, "a", "head");
  auto none = score(m, data, {});
  CHECK(none.status().code() == StatusCode::kUnsupported);
  CHECK(none.status().message().find("'head' (ScatterElements)") != std::string::npos);
  std::filesystem::remove(data);
}

TEST_CASE("importance: Sin and Cos of positions (no weight upstream) need no backward rule") {
  // logits = Gemm(x, w1, b1) + ReduceSum(Sin(Cos(Cast(Shape(x))))): the position branch is off the path.
  ir::Model m = make_graph_model(
      {make_node("Gemm", {"x", "w1", "b1"}, {"h"}), make_node("Shape", {"x"}, {"s"}),
       make_node("Cast", {"s"}, {"sf"}, {int_attr("to", 1)}), make_node("Cos", {"sf"}, {"c"}), make_node("Sin", {"c"}, {"p"}),
       make_node("ReduceSum", {"p"}, {"ps"}), make_node("Add", {"h", "ps"}, {"logits"})},
      {{"x", random_f32({4, 6}, 1), Role::kFeed}, {"w1", random_f32({6, 5}, 2)}, {"b1", random_f32({5}, 3)}}, {"logits"});
  m.graph.inputs[0].elem_type = DType::kF32;
  const std::string data = temp_path("pos.npz");
  REQUIRE(formats::write_npz(data, {{"x", random_f32({4, 6}, 1)}}).ok());
  auto r = score(m, data, {});
  REQUIRE(r.ok());
  CHECK(r->gradient_cuts.empty());
  CHECK(r->unscored_weights.empty());
  CHECK(find(*r, "w1").fisher_sum > 0);
  std::filesystem::remove(data);
}

TEST_CASE("importance: attention heads of a fused QKV projection, from Reshape shapes or --heads") {
  // x [1, T, 8] -> MatMul(w [8, 24]) + b -> Split(3, last axis) -> Reshape [1, T, 2, 4] each.
  auto shape = [](std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({int64_t(v.size())}, v); };
  ir::Model m = make_graph_model(
      {make_node("MatMul", {"x", "w"}, {"h"}), make_node("Add", {"h", "b"}, {"qkv"}),
       make_node("Split", {"qkv"}, {"q", "k", "v"}, {int_attr("axis", 2), int_attr("num_outputs", 3)}),
       make_node("Reshape", {"q", "s"}, {"q4"}), make_node("Reshape", {"k", "s"}, {"k4"}), make_node("Reshape", {"v", "s"}, {"v4"}),
       make_node("Mul", {"q4", "k4"}, {"qk"}), make_node("Mul", {"qk", "v4"}, {"y"})},
      {{"x", random_f32({1, 3, 8}, 1), Role::kFeed}, {"w", random_f32({8, 24}, 2)}, {"b", random_f32({24}, 3)},
       {"s", shape({1, -1, 2, 4}), Role::kConstant}},
      {"y"}, 18);
  m.graph.inputs[0].elem_type = DType::kF32;
  const std::string data = temp_path("attn.npy");
  REQUIRE(formats::write_npz(data + ".npz", {{"x", random_f32({2, 3, 8}, 4)}}).ok());
  for (int64_t forced : {int64_t{0}, int64_t{4}}) {
    pa::ImportanceOptions options;
    options.heads = forced;
    auto r = score(m, data + ".npz", options, 1);
    REQUIRE(r.ok());
    REQUIRE(r->heads.size() == 1);
    const auto& block = r->heads[0].block;
    CHECK(block.input == "x");
    CHECK(block.heads == (forced ? 4 : 2));
    CHECK(block.head_dim == (forced ? 2 : 4));
    REQUIRE(block.slices.size() == 3);
    std::vector<int64_t> offsets;
    for (const auto& s : block.slices) offsets.push_back(s.offset);
    std::sort(offsets.begin(), offsets.end());
    CHECK(offsets == std::vector<int64_t>{0, 8, 16});
    // Per head the Fisher removal adds the head's channels of Q, K and V.
    const auto& w = find(*r, "w");
    double heads_total = 0, channels_total = 0;
    for (double v : r->heads[0].fisher) heads_total += v;
    for (double v : w.groups.fisher) channels_total += v;
    CHECK(heads_total == doctest::Approx(channels_total));
  }
  std::filesystem::remove(data + ".npz");
}

TEST_CASE("importance on kjv-gpt2-tiny: FFN neurons, 4-head attention blocks, tied LM head") {
  // The samples/ copies of ../shared's model and calibration rows, so the test runs without it.
  auto model = formats::load_onnx(std::string(EMBER_SOURCE_DIR) + "/samples/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  auto r = score(*model, std::string(EMBER_SOURCE_DIR) + "/samples/kjv-lm-calib.npy", {}, 8, 2);
  REQUIRE(r.ok());
  CHECK(r->loss == "lm");
  CHECK(r->batch_size == 1);  // the export's output is [1, seq, 256]
  CHECK(r->mean_loss > 0.5);
  CHECK(r->mean_loss < 3.0);
  REQUIRE(r->heads.size() == 2);
  for (const auto& h : r->heads) {
    CHECK(h.block.heads == 4);
    CHECK(h.block.head_dim == 32);
    CHECK(h.block.slices.size() == 3);
    // A head's group includes its rows of the output projection: the scores grow beyond Q/K/V's.
    CHECK(h.block.output.find("attn.c_proj.weight") != std::string::npos);
    for (size_t k = 0; k < 4; ++k) CHECK(h.fisher[k] > h.fisher_first[k]);
  }
  CHECK(find(*r, "m.transformer.h.0.mlp.c_fc.weight").groups.kind == pa::GroupKind::kFfnNeuron);
  const auto& fc = find(*r, "m.transformer.h.0.mlp.c_fc.weight");
  REQUIRE(fc.groups.fisher.size() == fc.groups.fisher_first.size());
  for (size_t n = 0; n < fc.groups.fisher.size(); ++n) CHECK(fc.groups.fisher[n] > fc.groups.fisher_first[n]);
  CHECK(find(*r, "m.transformer.h.0.attn.c_proj.weight").groups.kind == pa::GroupKind::kOutputChannel);
  const auto& head = find(*r, "m.lm_head.weight");  // Gather and Transpose -> MatMul share it
  CHECK(head.op == "MatMul");
  CHECK(head.groups.taylor.size() == 256);
  CHECK(head.candidates.size() == 3);
  CHECK(r->peak_saved_activation_bytes > 0);
}

TEST_CASE("importance: the same scores, bit for bit, on one thread and on two") {
  auto model = formats::load_onnx(std::string(EMBER_SOURCE_DIR) + "/samples/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  std::vector<pa::TensorImportance> by_threads[2];
  for (int threads : {1, 2}) {
    pa::ImportanceOptions options;
    options.threads = threads;
    auto r = score(*model, std::string(EMBER_SOURCE_DIR) + "/samples/kjv-lm-calib.npy", options, 8, 2);
    REQUIRE(r.ok());
    by_threads[threads - 1] = r->tensors;
  }
  REQUIRE(by_threads[0].size() == by_threads[1].size());
  for (size_t i = 0; i < by_threads[0].size(); ++i) {
    const pa::TensorImportance &a = by_threads[0][i], &b = by_threads[1][i];
    INFO(a.name);
    CHECK(a.taylor == b.taylor);
    CHECK(a.fisher_sum == b.fisher_sum);
    CHECK(a.fisher_removal == b.fisher_removal);
    CHECK(a.groups.taylor == b.groups.taylor);
    CHECK(a.groups.fisher == b.groups.fisher);
    REQUIRE(a.candidates.size() == b.candidates.size());
    for (size_t c = 0; c < a.candidates.size(); ++c) {
      CHECK(a.candidates[c].noise == b.candidates[c].noise);
      CHECK(a.candidates[c].first_order == b.candidates[c].first_order);
    }
  }
}

TEST_CASE("importance: bf16 backward products move the scores of kjv-gpt2-tiny by under 1%") {
  // Where the CPU has AVX512-BF16 the default rounds the backward's matrix products to bf16;
  // each gradient is then good to ~3 digits, but every score sums g^2 (or g w) over many
  // weights and tokens, where those errors average out. Below avx512 both runs are f32.
  auto model = formats::load_onnx(std::string(EMBER_SOURCE_DIR) + "/samples/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  pa::ImportanceReport runs[2];
  for (bool bf16 : {false, true}) {
    pa::ImportanceOptions options;
    options.bf16_products = bf16;
    auto r = score(*model, std::string(EMBER_SOURCE_DIR) + "/samples/kjv-lm-calib.npy", options, 8, 2);
    REQUIRE(r.ok());
    runs[bf16] = std::move(*r);
  }
  const bool active = runtime::bf16_gemm_active();
  CHECK(runs[0].gradient_products == "f32");
  CHECK(runs[1].gradient_products == (active ? "bf16" : "f32"));
  const auto& exact = runs[0].tensors;
  const auto& rounded = runs[1].tensors;
  REQUIRE(exact.size() == rounded.size());
  double worst = 0;
  bool any_differs = false;
  for (size_t i = 0; i < exact.size(); ++i) {
    INFO(exact[i].name);
    auto close = [&](double a, double b, double tolerance) {
      any_differs = any_differs || a != b;
      worst = std::max(worst, std::fabs(a - b) / std::max(std::fabs(b), 1e-12));
      return std::fabs(a - b) <= tolerance * std::fabs(b);
    };
    // Taylor is a signed sum, so its relative error grows with the cancellation (measured:
    // up to 0.7% over these 2 rows); Fisher scores add squares (measured: up to 0.2%).
    CHECK(close(rounded[i].taylor, exact[i].taylor, 1e-2));
    CHECK(close(rounded[i].fisher_sum, exact[i].fisher_sum, 5e-3));
    REQUIRE(rounded[i].candidates.size() == exact[i].candidates.size());
    for (size_t c = 0; c < exact[i].candidates.size(); ++c)
      CHECK(close(rounded[i].candidates[c].noise, exact[i].candidates[c].noise, 5e-3));
  }
  CAPTURE(worst);
  CHECK(any_differs == active);  // the rounding happened exactly where it could
}

}  // namespace ember::importance_test
