// The GRU and RNN backward rules against central differences of float64 cells written here
// (the runtime's recurrent kernel is float32 only), for forward, reverse and bidirectional
// runs with bias and initial state, both GRU reset placements and three RNN activations.
#include <cmath>

#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {
namespace {

namespace rg = runtime::grad;

struct Case {
  std::string op = "GRU";
  int64_t seq = 3, batch = 2, in = 3, hidden = 2;
  std::string direction = "forward";
  bool linear_before_reset = false;
  std::string activation = "Tanh";  // RNN
  std::vector<int64_t> lens = {};   // sequence_lens, when given
  int64_t dirs() const { return direction == "bidirectional" ? 2 : 1; }
  int64_t gates() const { return op == "GRU" ? 3 : 1; }
};

double act(const std::string& name, double a) {
  if (name == "Relu") return a > 0 ? a : 0;
  if (name == "Sigmoid") return 1 / (1 + std::exp(-a));
  return std::tanh(a);
}

// Y [seq, dirs, batch, hidden] and Y_h [dirs, batch, hidden] in float64.
std::vector<std::vector<double>> reference(const Case& c, const Values& v) {
  const int64_t H = c.hidden, N = c.batch, G = c.gates() * H, D = c.dirs();
  std::vector<double> Y(size_t(c.seq * D * N * H)), Yh(size_t(D * N * H));
  auto sig = [](double a) { return 1 / (1 + std::exp(-a)); };
  for (int64_t d = 0; d < D; ++d) {
    std::vector<double> h(v.at("h0").begin() + d * N * H, v.at("h0").begin() + (d + 1) * N * H);
    const bool reverse = c.direction == "reverse" || d == 1;
    auto W = [&](int64_t j, int64_t q) { return v.at("W")[size_t((d * G + j) * c.in + q)]; };
    auto R = [&](int64_t j, int64_t q) { return v.at("R")[size_t((d * G + j) * H + q)]; };
    auto Wb = [&](int64_t j) { return v.at("B")[size_t(d * 2 * G + j)]; };
    auto Rb = [&](int64_t j) { return v.at("B")[size_t(d * 2 * G + G + j)]; };
    for (int64_t k = 0; k < c.seq; ++k) {
      std::vector<double> next = h;
      for (int64_t b = 0; b < N; ++b) {
        const int64_t len = c.lens.empty() ? c.seq : c.lens[size_t(b)];
        if (k >= len) continue;  // Y stays 0, the state stays
        const int64_t t = reverse ? len - 1 - k : k;
        auto x = [&](int64_t q) { return v.at("X")[size_t((t * N + b) * c.in + q)]; };
        auto hb = [&](int64_t q) { return h[size_t(b * H + q)]; };
        auto xw = [&](int64_t j) {
          double s = Wb(j);
          for (int64_t q = 0; q < c.in; ++q) s += x(q) * W(j, q);
          return s;
        };
        auto hr = [&](int64_t j) {
          double s = Rb(j);
          for (int64_t q = 0; q < H; ++q) s += hb(q) * R(j, q);
          return s;
        };
        std::vector<double> r(static_cast<size_t>(H));
        for (int64_t j = 0; j < H && c.op == "GRU"; ++j) r[size_t(j)] = sig(xw(H + j) + hr(H + j));
        for (int64_t j = 0; j < H; ++j) {
          double out;
          if (c.op == "RNN") {
            out = act(c.activation, xw(j) + hr(j));
          } else {
            const double z = sig(xw(j) + hr(j));
            double a = xw(2 * H + j);
            if (c.linear_before_reset) {
              a += r[size_t(j)] * hr(2 * H + j);
            } else {
              a += Rb(2 * H + j);
              for (int64_t q = 0; q < H; ++q) a += r[size_t(q)] * hb(q) * R(2 * H + j, q);
            }
            out = (1 - z) * std::tanh(a) + z * hb(j);
          }
          next[size_t(b * H + j)] = out;
          Y[size_t(((t * D + d) * N + b) * H + j)] = out;
        }
      }
      h = next;
    }
    std::copy(h.begin(), h.end(), Yh.begin() + d * N * H);
  }
  return {Y, Yh};
}

void check(const Case& c) {
  INFO(c.op, " direction ", c.direction, " linear_before_reset ", c.linear_before_reset, " activation ", c.activation);
  const int64_t G = c.gates() * c.hidden, D = c.dirs();
  const std::vector<TestInput> inputs = {{"X", random_f32({c.seq, c.batch, c.in}, 1), Role::kFeed},
                                         {"W", random_f32({D, G, c.in}, 2, 0.5f)},
                                         {"R", random_f32({D, G, c.hidden}, 3, 0.5f)},
                                         {"B", random_f32({D, 2 * G}, 4, 0.3f)},
                                         {"h0", random_f32({D, c.batch, c.hidden}, 5), Role::kFeed}};
  std::vector<ir::Attribute> attrs = {int_attr("hidden_size", c.hidden), test::string_attr("direction", c.direction)};
  if (c.op == "GRU") attrs.push_back(int_attr("linear_before_reset", c.linear_before_reset ? 1 : 0));
  if (c.op == "RNN") {
    ir::Attribute a;
    a.name = "activations";
    a.kind = ir::AttrKind::kStrings;
    a.strings.assign(size_t(D), c.activation);
    attrs.push_back(a);
  }
  std::vector<TestInput> all = inputs;
  if (!c.lens.empty())
    all.push_back({"lens", Tensor::from_vector<int32_t>({c.batch}, std::vector<int32_t>(c.lens.begin(), c.lens.end())), Role::kConstant});
  const ir::Model m = make_graph_model(
      {make_node(c.op, {"X", "W", "R", "B", c.lens.empty() ? "" : "lens", "h0"}, {"Y", "Yh"}, attrs)}, all, {"Y", "Yh"});
  check_against_reference(m, all, [&](const Values& v) { return reference(c, v); });
}

}  // namespace

TEST_CASE("grad GRU: both reset placements, forward, reverse and bidirectional") {
  for (bool lbr : {false, true}) {
    check({"GRU", 3, 2, 3, 2, "forward", lbr});
    check({"GRU", 3, 2, 3, 2, "reverse", lbr});
    check({"GRU", 4, 1, 2, 3, "bidirectional", lbr});
  }
}

TEST_CASE("grad RNN: Tanh, Relu and Sigmoid, all directions") {
  check({"RNN", 3, 2, 3, 2, "forward", false, "Tanh"});
  check({"RNN", 3, 2, 3, 2, "reverse", false, "Sigmoid"});
  check({"RNN", 3, 2, 3, 3, "bidirectional", false, "Relu"});
}

TEST_CASE("grad GRU and RNN with sequence_lens: shorter rows keep their state and get no gradient past their end") {
  for (const char* direction : {"forward", "reverse", "bidirectional"}) {
    check({"GRU", 4, 3, 2, 2, direction, false, "Tanh", {4, 1, 2}});
    check({"RNN", 4, 3, 2, 2, direction, false, "Tanh", {2, 4, 0}});
  }
}

TEST_CASE("grad GRU with clip is a cut naming the weights it cuts off") {
  const int64_t H = 2;
  ir::Model m = make_graph_model(
      {make_node("GRU", {"X", "W", "R"}, {"Y"}, {int_attr("hidden_size", H), float_attr("clip", 2.0f)}), make_node("MatMul", {"X", "V"}, {"Z"})},
      {{"X", random_f32({2, 1, 3}, 1), Role::kFeed}, {"W", random_f32({1, 3 * H, 3}, 2)}, {"R", random_f32({1, 3 * H, H}, 3)},
       {"V", random_f32({3, 2}, 5)}},
      {"Y", "Z"});
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  REQUIRE((*bi)->cuts().size() == 1);
  CHECK((*bi)->cuts()[0].op_type == "GRU");
  CHECK((*bi)->cuts()[0].sources_cut_off == std::vector<std::string>{"R", "W"});
}

}  // namespace ember::grad_test
