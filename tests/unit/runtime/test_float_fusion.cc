// Load-time float fusions (runtime/optimizer/rewrite_float.h) and the per-ISA vector math behind them
// (runtime/vmath/vector_math.h): the fused graphs keep the unfused results, patterns that
// must not fuse are left alone, and every vector function matches std:: on every ISA path.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/builders.h"
#include "runtime/cpu.h"
#include "runtime/interpreter.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/vmath/vector_math.h"
#include "tests/unit/test_support.h"

using namespace ember;

namespace {

struct Graph {
  ir::Model model = test::empty_model(17);
  void input(const std::string& name) { model.graph.inputs.push_back(test::value_info(name, DType::kF32)); }
  void output(const std::string& name) { model.graph.outputs.push_back(test::value_info(name, DType::kF32)); }
  void init(const std::string& name, Tensor t) { model.graph.set_initializer(name, std::move(t)); }
  void node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    model.graph.nodes.push_back(test::node(op, op + std::to_string(model.graph.nodes.size()), std::move(in), std::move(out)));
  }
};

std::unique_ptr<runtime::Interpreter> make(const ir::Model& model, bool fuse) {
  runtime::InterpreterOptions o;
  o.fuse_float = fuse;
  auto interp = runtime::Interpreter::create(model, o);
  REQUIRE_MESSAGE(interp.ok(), interp.status().message());
  return std::move(interp).value();
}

// Runs with and without fusion; returns the fused interpreter's op counts after checking
// that both give the same outputs (within `tol` of the largest).
std::map<std::string, int> check_same(const ir::Model& model, const Tensor& x, double tol) {
  auto plain = make(model, false);
  auto fused = make(model, true);
  auto a = plain->run({{"x", x}});
  auto b = fused->run({{"x", x}});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const auto va = test::floats_of((*a)[0]), vb = test::floats_of((*b)[0]);
  REQUIRE(va.size() == vb.size());
  double scale = 1e-30;
  for (float v : va) scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < va.size(); ++i) REQUIRE(std::fabs(va[i] - vb[i]) <= tol * scale);
  std::map<std::string, int> ops;
  for (const auto& n : fused->model().graph.nodes) ++ops[n.op_type];
  return ops;
}

Graph matmul_add(bool extra_reader) {
  Graph g;
  g.input("x");
  g.init("w", test::random_tensor({37, 21}, 3));
  g.init("b", test::random_tensor({21}, 4));
  g.node("MatMul", {"x", "w"}, {"p"});
  g.node("Add", {"p", "b"}, {"y"});
  g.output("y");
  if (extra_reader) {  // the product is also read elsewhere: nothing may fuse
    g.node("Relu", {"p"}, {"r"});
    g.output("r");
  }
  return g;
}

// PyTorch's erf GELU export, in either order of the 0.5 factor.
Graph gelu(bool half_first) {
  Graph g;
  g.input("x");
  g.init("sqrt2", Tensor::scalar<float>(1.41421353816986083984375f));
  g.init("one", Tensor::scalar<float>(1.0f));
  g.init("half", Tensor::scalar<float>(0.5f));
  g.node("Div", {"x", "sqrt2"}, {"d"});
  g.node("Erf", {"d"}, {"e"});
  g.node("Add", {"e", "one"}, {"a"});
  if (half_first) {
    g.node("Mul", {"x", "half"}, {"h"});
    g.node("Mul", {"h", "a"}, {"y"});
  } else {
    g.node("Mul", {"x", "a"}, {"m"});
    g.node("Mul", {"m", "half"}, {"y"});
  }
  g.output("y");
  return g;
}

// GPT-2's tanh GELU export (HF gelu_new), in either order of the 0.5 factor.
Graph gelu_tanh(bool half_first) {
  Graph g;
  g.input("x");
  g.init("three", Tensor::scalar<float>(3.0f));
  g.init("c", Tensor::scalar<float>(0.044715f));
  g.init("k", Tensor::scalar<float>(0.7978845834732056f));
  g.init("one", Tensor::scalar<float>(1.0f));
  g.init("half", Tensor::scalar<float>(0.5f));
  if (half_first) g.node("Mul", {"x", "half"}, {"h"});
  g.node("Pow", {"x", "three"}, {"p"});
  g.node("Mul", {"p", "c"}, {"m"});
  g.node("Add", {"x", "m"}, {"a"});
  g.node("Mul", {"a", "k"}, {"s"});
  g.node("Tanh", {"s"}, {"t"});
  g.node("Add", {"t", "one"}, {"t1"});
  if (half_first) {
    g.node("Mul", {"h", "t1"}, {"y"});
  } else {
    g.node("Mul", {"x", "t1"}, {"xm"});
    g.node("Mul", {"xm", "half"}, {"y"});
  }
  g.output("y");
  return g;
}

}  // namespace

TEST_CASE("fuse-float: GPT-2's tanh GELU subgraph becomes one Gelu{approximate=tanh}, in both factor orders") {
  const Tensor x = test::normal_tensor({3, 1000}, 10, 3.0f);
  for (bool half_first : {false, true}) {
    auto ops = check_same(gelu_tanh(half_first).model, x, 1e-6);
    CHECK(ops["Gelu"] == 1);
    CHECK(ops.size() == 1);
  }
  // Another exponent is another function: left alone.
  Graph g = gelu_tanh(true);
  g.init("three", Tensor::scalar<float>(2.0f));
  auto ops = check_same(g.model, x, 1e-6);
  CHECK(ops.count("Gelu") == 0);
  CHECK(ops["Tanh"] == 1);
}

TEST_CASE("fuse-float: attention's head transposes, scaling, mask and softmax fuse into Attention") {
  // x [batch 2, seq 5, heads 3, dim 8]: Q and V views [2, 3, 5, 8], K^T view [2, 3, 8, 5].
  Graph g;
  g.input("x");
  auto transpose = [&](const std::string& in, const std::string& out, std::vector<int64_t> perm) {
    g.model.graph.nodes.push_back(test::node("Transpose", out + "_t", {in}, {out}, {ir::ints_attribute("perm", perm)}));
  };
  transpose("x", "q", {0, 2, 1, 3});
  transpose("x", "kt", {0, 2, 3, 1});
  transpose("x", "v", {0, 2, 1, 3});
  g.node("MatMul", {"q", "kt"}, {"s0"});
  g.init("sqrt_d", Tensor::scalar<float>(2.828427f));
  g.node("Div", {"s0", "sqrt_d"}, {"s"});  // the score scaling becomes the GEMM's alpha
  std::vector<float> causal(25);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) causal[size_t(i * 5 + j)] = j > i ? -1e4f : 0.0f;
  g.init("mask", Tensor::from_vector<float>({1, 1, 5, 5}, causal));
  g.node("Add", {"s", "mask"}, {"sm"});  // the mask is added inside the softmax
  g.node("Softmax", {"sm"}, {"p"});
  g.model.graph.value_info.push_back(test::value_info("p", DType::kF32, {2, 3, 5, 5}, ""));
  g.node("MatMul", {"p", "v"}, {"o"});
  transpose("o", "y", {0, 2, 1, 3});
  g.output("y");
  const Tensor x = test::normal_tensor({2, 5, 3, 8}, 11, 1.0f);
  auto ops = check_same(g.model, x, 1e-5);
  CHECK(ops["Attention"] == 1);
  CHECK(ops.size() == 1);

  // The probabilities also a graph output: the products and the softmax fuse separately.
  g.model.graph.outputs.push_back(test::value_info("p", DType::kF32));
  ops = check_same(g.model, x, 1e-5);
  CHECK(ops["PermutedMatMul"] == 2);
  CHECK(ops.count("Transpose") == 0);
  CHECK(ops.count("MatMul") == 0);
  CHECK(ops.count("Div") == 0);
  CHECK(ops["AddSoftmax"] == 1);
  CHECK(ops.count("Softmax") == 0);
  g.model.graph.outputs.pop_back();

  // Without a known rank for the plain operand the second product is left alone.
  g.model.graph.value_info.clear();
  ops = check_same(g.model, x, 1e-5);
  CHECK(ops["PermutedMatMul"] == 1);
  CHECK(ops["MatMul"] == 1);

  // A transposed view against a 2-D weight that is a graph input: the batch axes broadcast.
  Graph h;
  h.input("x");
  h.model.graph.inputs.push_back(test::value_info("w", DType::kF32, {8, 4}, ""));
  h.model.graph.nodes.push_back(test::node("Transpose", "t", {"x"}, {"xt"}, {ir::ints_attribute("perm", {0, 2, 1, 3})}));
  h.node("MatMul", {"xt", "w"}, {"y"});
  h.output("y");
  const std::map<std::string, Tensor> feeds = {{"x", x}, {"w", test::normal_tensor({8, 4}, 12, 1.0f)}};
  auto plain = make(h.model, false), fused = make(h.model, true);
  CHECK(fused->model().graph.nodes.size() == 1);
  auto a = plain->run(feeds), b = fused->run(feeds);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK((*b)[0].shape() == Shape{2, 3, 5, 4});
  const auto va = test::floats_of((*a)[0]), vb = test::floats_of((*b)[0]);
  for (size_t i = 0; i < va.size(); ++i) REQUIRE(std::fabs(va[i] - vb[i]) <= 1e-5 * (1 + std::fabs(va[i])));
}

// Attention over a mask given at run time: Q, K, V [batch, heads, seq, 16] as inputs, scores
// scaled, the mask added, softmax, times V, heads merged. Returns the largest |fused - unfused| relative to
// the largest output, after checking that the fused model is one Attention node.
double attention_difference(const Shape& mask_shape, const std::vector<float>& mask, int64_t batch, int64_t seq) {
  Graph g;
  for (const char* name : {"q", "k", "v"}) g.model.graph.inputs.push_back(test::value_info(name, DType::kF32, {batch, 2, seq, 16}, ""));
  g.input("mask");
  g.model.graph.nodes.push_back(test::node("Transpose", "kt", {"k"}, {"kt"}, {ir::ints_attribute("perm", {0, 1, 3, 2})}));
  g.node("MatMul", {"q", "kt"}, {"s0"});
  g.init("scale", Tensor::scalar<float>(0.25f));
  g.node("Mul", {"s0", "scale"}, {"s"});
  g.node("Add", {"mask", "s"}, {"sm"});  // the mask first: either input of the Add
  g.node("Softmax", {"sm"}, {"p"});
  g.model.graph.value_info.push_back(test::value_info("p", DType::kF32, {batch, 2, seq, seq}, ""));
  g.node("MatMul", {"p", "v"}, {"o"});
  g.model.graph.nodes.push_back(test::node("Transpose", "merge", {"o"}, {"y"}, {ir::ints_attribute("perm", {0, 2, 1, 3})}));
  g.output("y");
  const std::map<std::string, Tensor> feeds = {{"q", test::normal_tensor({batch, 2, seq, 16}, 21, 2.0f)},
                                               {"k", test::normal_tensor({batch, 2, seq, 16}, 22, 2.0f)},
                                               {"v", test::normal_tensor({batch, 2, seq, 16}, 23, 1.0f)},
                                               {"mask", Tensor::from_vector<float>(mask_shape, mask)}};
  auto plain = make(g.model, false);
  auto a = plain->run(feeds);
  REQUIRE(a.ok());
  const auto va = test::floats_of((*a)[0]);
  double scale = 1e-30, diff = 0;
  for (float v : va) scale = std::max(scale, double(std::fabs(v)));
  for (auto level : test::testable_levels({runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvx512})) {
    test::IsaScope isa(level);
    CAPTURE(runtime::isa_name(level));
    auto fused = make(g.model, true);
    REQUIRE(fused->model().graph.nodes.size() == 1);
    CHECK(fused->model().graph.nodes[0].op_type == "Attention");
    auto b = fused->run(feeds);
    REQUIRE(b.ok());
    REQUIRE((*a)[0].shape() == (*b)[0].shape());
    const auto vb = test::floats_of((*b)[0]);
    for (size_t i = 0; i < va.size(); ++i) {
      REQUIRE(std::isfinite(vb[i]) == std::isfinite(va[i]));
      diff = std::max(diff, double(std::fabs(va[i] - vb[i])));
    }
  }
  return diff / scale;
}

TEST_CASE("fuse-float: Attention skips the keys a mask hides and keeps the unfused results") {
  const float kMin = -3.4028234663852886e+38f, kInf = -INFINITY;
  // Causal masks [1, 1, S, S] over several row blocks (S = 70: blocks of 8, a ragged last one),
  // hiding keys with finfo.min, -inf, or -1e4 (not skipped, computed as it is).
  for (float hidden : {kMin, kInf, -1e4f}) {
    const int64_t S = 70;
    std::vector<float> causal(size_t(S * S));
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) causal[size_t(i * S + j)] = j > i ? hidden : 0.0f;
    CHECK(attention_difference({1, 1, S, S}, causal, 2, S) <= 1e-6);
  }
  // A padding mask [B, 1, 1, S]: batch 0 sees 37 keys, batch 1 sees none (every key hidden,
  // so every key is kept: a uniform average), batch 2 sees all.
  const int64_t S = 45;
  std::vector<float> padding(size_t(3 * S), 0.0f);
  for (int64_t j = 37; j < S; ++j) padding[size_t(j)] = kMin;
  for (int64_t j = 0; j < S; ++j) padding[size_t(S + j)] = kMin;
  CHECK(attention_difference({3, 1, 1, S}, padding, 3, S) <= 1e-6);
  // Hidden keys in the middle of a row are computed (only a hidden tail is skipped), and a mask
  // row whose visible keys are all far below the rest keeps every key.
  std::vector<float> holes(size_t(S), 0.0f);
  for (int64_t j = 5; j < 20; ++j) holes[size_t(j)] = kMin;
  CHECK(attention_difference({S}, holes, 1, S) <= 1e-6);
  std::vector<float> faint(size_t(S), -1e25f);
  for (int64_t j = 30; j < S; ++j) faint[size_t(j)] = kMin;
  CHECK(attention_difference({1, S}, faint, 1, S) <= 1e-6);
}

TEST_CASE("fuse-float: an Attention node given inputs that do not fit fails with the reason") {
  // The op as the rewrite would emit it, fed a mask that does not broadcast to the scores and
  // then a V whose rows are not the keys.
  Graph g;
  for (const char* name : {"q", "k", "v", "mask"}) g.input(name);
  ir::Node att = test::node("Attention", "att", {"q", "k", "v", "mask"}, {"y"}, {ir::ints_attribute("perm_k", {0, 2, 1})});
  att.domain = "ember.fused";
  g.model.graph.nodes.push_back(att);
  g.model.opset_imports.push_back({"ember.fused", 1});
  g.output("y");
  auto interp = make(g.model, false);
  const Tensor q = test::normal_tensor({2, 5, 8}, 1), k = test::normal_tensor({2, 6, 8}, 2);
  auto bad_mask = interp->run({{"q", q}, {"k", k}, {"v", test::normal_tensor({2, 6, 4}, 3)}, {"mask", test::normal_tensor({3, 6}, 4)}});
  REQUIRE(!bad_mask.ok());
  CHECK(bad_mask.status().message().find("does not broadcast to the scores") != std::string::npos);
  auto bad_v = interp->run({{"q", q}, {"k", k}, {"v", test::normal_tensor({2, 7, 4}, 3)}, {"mask", test::normal_tensor({6}, 4)}});
  REQUIRE(!bad_v.ok());
  CHECK(bad_v.status().message().find("do not chain") != std::string::npos);
  auto good = interp->run({{"q", q}, {"k", k}, {"v", test::normal_tensor({2, 6, 4}, 3)}, {"mask", test::normal_tensor({6}, 4)}});
  REQUIRE(good.ok());
  CHECK((*good)[0].shape() == Shape{2, 5, 4});
}

TEST_CASE("fuse-float: a residual Add and the LayerNormalization after it become AddLayerNorm") {
  const Tensor x = test::normal_tensor({4, 6, 40}, 13, 2.0f);
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    // variant 0: the sum is also read by the next residual Add (GPT-2); 1: only by the
    // LayerNormalization (BERT); 2: a [40] operand that broadcasts.
    Graph g;
    g.input("x");
    g.init("gamma", test::random_tensor({40}, 14));
    g.init("beta", test::random_tensor({40}, 15));
    g.init("r", test::random_tensor(variant == 2 ? Shape{40} : Shape{4, 6, 40}, 16));
    g.node("Relu", {"x"}, {"h"});
    g.node("Add", {"h", "r"}, {"s"});
    g.node("LayerNormalization", {"s", "gamma", "beta"}, {"n"});
    if (variant == 0) {
      g.node("Add", {"s", "n"}, {"y"});
    } else {
      g.node("Identity", {"n"}, {"y"});
    }
    g.output("y");
    auto ops = check_same(g.model, x, 1e-6);
    CHECK(ops["AddLayerNorm"] == 1);
    CHECK(ops.count("LayerNormalization") == 0);
  }
}

TEST_CASE("fuse-float: MatMul + constant bias becomes MatMulBias with the same results") {
  const Tensor x = test::random_tensor({2, 5, 37}, 7);
  auto ops = check_same(matmul_add(false).model, x, 1e-6);
  CHECK(ops["MatMulBias"] == 1);
  CHECK(ops.count("MatMul") == 0);
  CHECK(ops.count("Add") == 0);
  ops = check_same(matmul_add(true).model, x, 1e-6);
  CHECK(ops.count("MatMulBias") == 0);
  CHECK(ops["MatMul"] == 1);
}

TEST_CASE("fuse-float: the erf GELU subgraph becomes one Gelu, in both factor orders") {
  const Tensor x = test::normal_tensor({3, 1000}, 9, 3.0f);
  for (bool half_first : {false, true}) {
    auto ops = check_same(gelu(half_first).model, x, 1e-6);
    CHECK(ops["Gelu"] == 1);
    CHECK(ops.size() == 1);
  }
  // A constant that is not 1/sqrt(2)'s reciprocal: a different function, left alone.
  Graph g = gelu(false);
  g.init("sqrt2", Tensor::scalar<float>(1.5f));
  auto ops = check_same(g.model, x, 1e-6);
  CHECK(ops.count("Gelu") == 0);
  CHECK(ops["Erf"] == 1);
}

// The FMA path divides by a reciprocal and one correction step: every byte must still be the
// one QuantizeLinear's x / scale gives (kernels/quant_types.h), over values and scales of every
// magnitude, ties of rounding, NaN, infinities and the clamps.
TEST_CASE("vector math: quantize_u8 gives QuantizeLinear's bytes on every ISA path") {
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-40, 40);
  std::vector<float> x;
  for (int i = 0; i < 200000; ++i) x.push_back(std::ldexp(mantissa(rng), exponent(rng) / 4));
  for (float v : {0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 127.5f, 1e30f, -1e30f, NAN, INFINITY, -INFINITY, 1e-40f})
    x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> got(x.size());
  const std::vector<float> scales = {1.0f, 0.1f, 3.0f / 255.0f, 7.123e-3f, 1e-30f, 1e-39f, 1e20f, 1.17549435e-38f, 2.5e37f};
  for (auto level : test::testable_levels({runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvx512})) {
    test::IsaScope isa(level);
    CAPTURE(runtime::isa_name(level));
    for (float scale : scales) {
      for (auto [zp, lo, hi, offset] : {std::array<int32_t, 4>{128, 0, 255, 0}, {0, -128, 127, 128}, {3, -127, 127, 0}}) {
        CAPTURE(scale);
        CAPTURE(zp);
        runtime::vmath::quantize_u8(x.data(), n, scale, zp, lo, hi, offset, got.data());
        for (int64_t i = 0; i < n; ++i) {
          const float v = x[size_t(i)] / scale;
          const uint8_t want = static_cast<uint8_t>(runtime::quantize_value(v == v ? v : 0.0f, zp, lo, hi) + offset);
          CAPTURE(x[size_t(i)]);
          REQUIRE(int(got[size_t(i)]) == int(want));
        }
      }
    }
  }
}

TEST_CASE("vector math: every function matches std:: on every ISA path") {
  std::vector<float> x;
  for (float v = -30.0f; v <= 30.0f; v += 0.0137f) x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size());
  for (auto level : test::testable_levels({runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvx512})) {
    test::IsaScope isa(level);
    CAPTURE(runtime::isa_name(level));
    auto check = [&](auto fn, auto ref, double rel, double abs) {
      fn(x.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = ref(double(x[size_t(i)]));
        CAPTURE(x[size_t(i)]);
        REQUIRE(std::fabs(y[size_t(i)] - want) <= rel * std::fabs(want) + abs);
      }
    };
    check([](const float* a, float* b, int64_t m) { runtime::vmath::exp_shifted(a, b, m, 1.5f); },
          [](double v) { return std::exp(v - 1.5); }, 2e-6, 0);
    check(runtime::vmath::tanh, [](double v) { return std::tanh(v); }, 2e-6, 1e-7);
    check(runtime::vmath::erf, [](double v) { return std::erf(v); }, 2e-6, 2e-7);
    check(runtime::vmath::sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }, 2e-6, 1e-30);
    check(runtime::vmath::gelu_erf, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, 2e-6, 1e-6);
    check(runtime::vmath::gelu_tanh,
          [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }, 2e-6, 1e-6);
    // NaN propagates through the vector exp and its users, wherever it sits in a vector.
    std::vector<float> nan_in(37, 0.5f), nan_out(37);
    nan_in[3] = nan_in[20] = nan_in[35] = NAN;
    for (auto fn : {runtime::vmath::tanh, runtime::vmath::erf, runtime::vmath::sigmoid, runtime::vmath::gelu_erf,
                    runtime::vmath::gelu_tanh}) {
      fn(nan_in.data(), nan_out.data(), 37);
      for (size_t i = 0; i < nan_in.size(); ++i) REQUIRE(std::isnan(nan_out[i]) == std::isnan(nan_in[i]));
    }
    runtime::vmath::exp_shifted(nan_in.data(), nan_out.data(), 37, 0.0f);
    for (size_t i = 0; i < nan_in.size(); ++i) REQUIRE(std::isnan(nan_out[i]) == std::isnan(nan_in[i]));
    double sum = 0, magnitude = 0;
    for (float v : x) sum += v, magnitude += std::fabs(v);
    // Float lanes summed per block of 64: rounding is relative to the magnitudes added.
    CHECK(std::fabs(runtime::vmath::sum(x.data(), n) - sum) <= 1e-6 * magnitude);
    CHECK(runtime::vmath::max(x.data(), n) == *std::max_element(x.begin(), x.end()));
    CHECK(runtime::vmath::max(x.data() + 3, 5) == x[7]);
    // softmax of rows of every length class (under, at and over a vector, blocks of 64).
    for (int64_t len : {1, 7, 16, 17, 64, 65, 200}) {
      std::vector<float> row(x.begin(), x.begin() + len);
      std::vector<float> out(row.size());
      for (float& v : row) v *= 0.3f;
      runtime::vmath::softmax(row.data(), out.data(), len);
      double top = row[0], total = 0;
      for (float v : row) top = std::max(top, double(v));
      for (float v : row) total += std::exp(double(v) - top);
      for (int64_t i = 0; i < len; ++i) {
        const double want = std::exp(double(row[size_t(i)]) - top) / total;
        REQUIRE(std::fabs(out[size_t(i)] - want) <= 2e-6 * want + 1e-30);
      }
    }
    // The quantizers' reductions, NaNs skipped, at lengths around the vector and block sizes.
    for (int64_t len : {1, 15, 16, 63, 64, 65, 1000}) {
      std::vector<float> v(x.begin() + 100, x.begin() + 100 + len);
      for (size_t i = 0; i < v.size(); i += 7) v[i] = NAN;
      float want_abs = 0, want_lo = 0, want_hi = 0;
      for (float f : v)
        if (f == f) want_abs = std::max(want_abs, std::fabs(f)), want_lo = std::min(want_lo, f), want_hi = std::max(want_hi, f);
      CHECK(runtime::vmath::abs_max(v.data(), len) == want_abs);
      float lo = 1, hi = -1;
      runtime::vmath::range_with_zero(v.data(), len, &lo, &hi);
      CHECK(lo == want_lo);
      CHECK(hi == want_hi);
    }
    // extent_above cuts the tail at or below the threshold, and never a NaN.
    for (int64_t len : {0, 1, 15, 16, 37, 100}) {
      std::vector<float> tailed(size_t(len), -1e30f);
      CHECK(runtime::vmath::extent_above(tailed.data(), len, -1e30f) == 0);
      for (int64_t keep = 0; keep <= len; keep += std::max<int64_t>(1, len / 5)) {
        std::vector<float> t = tailed;
        if (keep > 0) t[size_t(keep - 1)] = 0.0f;
        CHECK(runtime::vmath::extent_above(t.data(), len, -1e30f) == keep);
        if (len > 0) t[size_t(len - 1)] = NAN;
        CHECK(runtime::vmath::extent_above(t.data(), len, -1e30f) == len);
      }
    }
    // LayerNormalization's helpers, on a row with a large mean against its spread.
    std::vector<float> row(1000), scale(1000), bias(1000), out(1000);
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = 1000.0f + 0.25f * float(int(i * 7919 % 101) - 50);
      scale[i] = 0.5f + float(i % 5);
      bias[i] = float(i % 3) - 1.0f;
    }
    double deviations = 0;
    for (float v : row) deviations += (double(v) - 1000.0) * (double(v) - 1000.0);
    const int64_t m = int64_t(row.size());
    CHECK(std::fabs(runtime::vmath::squared_deviations(row.data(), m, 1000.0f) - deviations) <= 1e-6 * deviations);
    for (const float* b : {static_cast<const float*>(bias.data()), static_cast<const float*>(nullptr)}) {
      runtime::vmath::normalize_affine(row.data(), m, 1000.0f, 0.125f, scale.data(), b, out.data());
      for (size_t i = 0; i < row.size(); ++i) {
        const double want = (double(row[i]) - 1000.0) * 0.125 * scale[i] + (b ? b[i] : 0.0);
        REQUIRE(std::fabs(out[i] - want) <= 1e-6 * (1 + std::fabs(want)));
      }
    }
  }
}
