// The LSTM backward rule against central differences of a float64 LSTM written here (the
// runtime's recurrent kernel is float32 only), for forward, reverse and bidirectional runs with
// initial states; the kernel's own outputs are checked against the same reference. Peepholes
// are outside the rule: such an LSTM is a cut naming the weights it cuts off.
#include <cmath>

#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {
namespace {

namespace rg = runtime::grad;

struct LstmCase {
  int64_t seq = 3, batch = 2, in = 3, hidden = 2;
  std::string direction = "forward";
  int64_t dirs() const { return direction == "bidirectional" ? 2 : 1; }
};

using Values = std::map<std::string, std::vector<double>>;

std::vector<double> doubles(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }

// Y [seq, dirs, batch, hidden], Y_h and Y_c [dirs, batch, hidden], in float64.
std::vector<std::vector<double>> reference_lstm(const LstmCase& c, const Values& v) {
  const int64_t G = 4 * c.hidden, H = c.hidden, N = c.batch;
  std::vector<double> Y(size_t(c.seq * c.dirs() * N * H)), Yh(size_t(c.dirs() * N * H)), Yc(Yh.size());
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  for (int64_t d = 0; d < c.dirs(); ++d) {
    std::vector<double> h(v.at("h0").begin() + d * N * H, v.at("h0").begin() + (d + 1) * N * H);
    std::vector<double> cell(v.at("c0").begin() + d * N * H, v.at("c0").begin() + (d + 1) * N * H);
    const bool reverse = c.direction == "reverse" || d == 1;
    for (int64_t k = 0; k < c.seq; ++k) {
      const int64_t t = reverse ? c.seq - 1 - k : k;
      std::vector<double> next = h;
      for (int64_t b = 0; b < N; ++b) {
        std::vector<double> g(static_cast<size_t>(G));
        for (int64_t j = 0; j < G; ++j) {
          double acc = v.at("B")[size_t(d * 2 * G + j)] + v.at("B")[size_t(d * 2 * G + G + j)];
          for (int64_t q = 0; q < c.in; ++q) acc += v.at("X")[size_t((t * N + b) * c.in + q)] * v.at("W")[size_t((d * G + j) * c.in + q)];
          for (int64_t q = 0; q < H; ++q) acc += h[size_t(b * H + q)] * v.at("R")[size_t((d * G + j) * H + q)];
          g[size_t(j)] = j < 3 * H ? sig(acc) : std::tanh(acc);
        }
        for (int64_t q = 0; q < H; ++q) {
          double& cq = cell[size_t(b * H + q)];
          cq = g[size_t(2 * H + q)] * cq + g[size_t(q)] * g[size_t(3 * H + q)];
          next[size_t(b * H + q)] = g[size_t(H + q)] * std::tanh(cq);
          Y[size_t(((t * c.dirs() + d) * N + b) * H + q)] = next[size_t(b * H + q)];
        }
      }
      h = next;
    }
    std::copy(h.begin(), h.end(), Yh.begin() + d * N * H);
    std::copy(cell.begin(), cell.end(), Yc.begin() + d * N * H);
  }
  return {Y, Yh, Yc};
}

void check_lstm(const LstmCase& c) {
  INFO("direction ", c.direction);
  const int64_t G = 4 * c.hidden, D = c.dirs();
  const std::map<std::string, Tensor> values = {
      {"X", random_f32({c.seq, c.batch, c.in}, 1)}, {"W", random_f32({D, G, c.in}, 2, 0.5f)},
      {"R", random_f32({D, G, c.hidden}, 3, 0.5f)}, {"B", random_f32({D, 2 * G}, 4, 0.3f)},
      {"h0", random_f32({D, c.batch, c.hidden}, 5)}, {"c0", random_f32({D, c.batch, c.hidden}, 6)}};
  ir::Model m = make_graph_model(
      {make_node("LSTM", {"X", "W", "R", "B", "", "h0", "c0"}, {"Y", "Yh", "Yc"},
                 {int_attr("hidden_size", c.hidden), test::string_attr("direction", c.direction)})},
      {{"X", values.at("X"), Role::kFeed}, {"W", values.at("W")}, {"R", values.at("R")}, {"B", values.at("B")},
       {"h0", values.at("h0"), Role::kFeed}, {"c0", values.at("c0"), Role::kFeed}},
      {"Y", "Yh", "Yc"});
  rg::GradientOptions go;
  go.parameters = {"W", "R", "B"};
  go.activations = {"X", "h0", "c0"};
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  auto outputs = (*bi)->forward({{"X", values.at("X")}, {"h0", values.at("h0")}, {"c0", values.at("c0")}});
  REQUIRE_MESSAGE(outputs.ok(), outputs.status().message());
  Values base;
  for (const auto& [name, t] : values) base[name] = doubles(t);
  const auto ref = reference_lstm(c, base);
  for (size_t o = 0; o < 3; ++o)
    for (int64_t i = 0; i < (*outputs)[o].numel(); ++i) CHECK((*outputs)[o].data<float>()[i] == doctest::Approx(ref[o][size_t(i)]).epsilon(1e-5));
  const std::vector<Tensor> seeds = {random_f32((*outputs)[0].shape(), 11), random_f32((*outputs)[1].shape(), 12),
                                     random_f32((*outputs)[2].shape(), 13)};
  std::map<std::string, Tensor> analytic;
  REQUIRE((*bi)->backward({{"Y", seeds[0]}, {"Yh", seeds[1]}, {"Yc", seeds[2]}}, [&](const std::string& name, const Tensor& g) {
                  analytic[name] = g.clone();
                  return Status::Ok();
                }).ok());
  auto loss = [&](const Values& v) {
    const auto out = reference_lstm(c, v);
    double s = 0;
    for (size_t o = 0; o < 3; ++o)
      for (size_t i = 0; i < out[o].size(); ++i) s += out[o][i] * seeds[o].data<float>()[i];
    return s;
  };
  for (const auto& [name, t] : values) {
    INFO("gradient of ", name);
    REQUIRE(analytic.count(name) == 1);
    for (int64_t i = 0; i < t.numel(); ++i) {
      Values plus = base, minus = base;
      plus[name][size_t(i)] += 1e-6;
      minus[name][size_t(i)] -= 1e-6;
      const double numeric = (loss(plus) - loss(minus)) / 2e-6;
      CHECK(analytic[name].data<float>()[i] == doctest::Approx(numeric).epsilon(1e-3).scale(1.0));
    }
  }
}

}  // namespace

TEST_CASE("grad LSTM: forward, reverse and bidirectional, with bias and initial states") {
  check_lstm({});
  check_lstm({3, 2, 3, 2, "reverse"});
  check_lstm({4, 1, 2, 3, "bidirectional"});
}

TEST_CASE("grad LSTM with peepholes is a cut naming the weights it cuts off") {
  const int64_t H = 2;
  ir::Model m = make_graph_model(
      {make_node("LSTM", {"X", "W", "R", "", "", "", "", "P"}, {"Y"}, {int_attr("hidden_size", H)}),
       make_node("MatMul", {"X", "V"}, {"Z"})},
      {{"X", random_f32({2, 1, 3}, 1), Role::kFeed}, {"W", random_f32({1, 4 * H, 3}, 2)}, {"R", random_f32({1, 4 * H, H}, 3)},
       {"P", random_f32({1, 3 * H}, 4)}, {"V", random_f32({3, 2}, 5)}},
      {"Y", "Z"});
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  REQUIRE((*bi)->cuts().size() == 1);
  CHECK((*bi)->cuts()[0].op_type == "LSTM");
  CHECK((*bi)->cuts()[0].sources_cut_off == std::vector<std::string>{"P", "R", "W"});
}

}  // namespace ember::grad_test
