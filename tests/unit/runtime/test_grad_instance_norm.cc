// Backward rules of InstanceNormalization, GroupNormalization, MeanVarianceNormalization,
// LpNormalization and LRN. GroupNormalization and LRN run in float32 only, so their tests
// check against a float64 reference written here.
#include <cmath>

#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {
namespace {

// GroupNormalization of X [N, C, S] (S the flattened spatial size) in float64.
std::vector<double> group_norm(const Values& v, int64_t n, int64_t c, int64_t s, int64_t groups, bool per_channel) {
  const auto& x = v.at("x");
  std::vector<double> y(x.size());
  const int64_t per = c / groups, count = per * s;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t base = (b * c + g * per) * s;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < count; ++i) mean += x[size_t(base + i)];
      mean /= double(count);
      for (int64_t i = 0; i < count; ++i) var += (x[size_t(base + i)] - mean) * (x[size_t(base + i)] - mean);
      const double r = 1 / std::sqrt(var / double(count) + 1e-5);
      for (int64_t i = 0; i < count; ++i) {
        const size_t k = size_t(per_channel ? g * per + i / s : g);
        y[size_t(base + i)] = (x[size_t(base + i)] - mean) * r * v.at("scale")[k] + v.at("bias")[k];
      }
    }
  return y;
}

// LRN of X [N, C, S] in float64.
std::vector<double> lrn(const std::vector<double>& x, int64_t n, int64_t c, int64_t s, int64_t size, double alpha, double beta,
                        double bias) {
  std::vector<double> y(x.size());
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < s; ++i) {
        double sum = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(c - 1, ch + hi); ++k) sum += std::pow(x[size_t((b * c + k) * s + i)], 2);
        const size_t at = size_t((b * c + ch) * s + i);
        y[at] = x[at] / std::pow(bias + alpha / double(size) * sum, beta);
      }
  return y;
}

}  // namespace

TEST_CASE("grad InstanceNormalization for X, scale and bias") {
  check_node("InstanceNormalization",
             {{"x", random_f32({2, 3, 2, 3}, 1, 1.0f, 0.3f), Role::kFeed}, {"scale", random_f32({3}, 2, 0.5f, 1.0f)},
              {"bias", random_f32({3}, 3)}},
             {float_attr("epsilon", 1e-3f)}, 6);
}

TEST_CASE("grad MeanVarianceNormalization over the default and over given axes") {
  check_node("MeanVarianceNormalization", {{"x", random_f32({2, 3, 2, 2}, 1)}}, {}, 13);
  check_node("MeanVarianceNormalization", {{"x", random_f32({2, 3, 4}, 2)}}, {ints_attr("axes", {-1})}, 13);
}

TEST_CASE("grad LpNormalization, p = 1 and 2, along any axis") {
  check_node("LpNormalization", {{"x", random_f32({3, 4}, 1)}}, {}, 13);
  check_node("LpNormalization", {{"x", random_f32({2, 3, 2}, 2)}}, {int_attr("axis", 1)}, 13);
  check_node("LpNormalization", {{"x", distinct_f32({3, 4}, 3, 0.1f)}}, {int_attr("p", 1)}, 13);
}

TEST_CASE("grad GroupNormalization with per-group (opset 18) and per-channel (opset 21) scale") {
  for (int64_t opset : {18, 21}) {
    INFO("opset ", opset);
    const int64_t n = 2, c = 4, groups = 2, s = 3;
    const int64_t affine = opset >= 21 ? c : groups;
    const std::vector<TestInput> inputs = {{"x", random_f32({n, c, s}, 1, 1.0f, 0.2f), Role::kFeed},
                                           {"scale", random_f32({affine}, 2, 0.5f, 1.0f)},
                                           {"bias", random_f32({affine}, 3)}};
    const ir::Model m = make_graph_model(
        {make_node("GroupNormalization", {"x", "scale", "bias"}, {"y"}, {int_attr("num_groups", groups)})}, inputs, {"y"}, opset);
    check_against_reference(m, inputs, [&](const Values& v) {
      return std::vector<std::vector<double>>{group_norm(v, n, c, s, groups, opset >= 21)};
    });
  }
}

TEST_CASE("grad LRN with odd and even windows") {
  for (int64_t size : {3, 2}) {
    INFO("size ", size);
    const std::vector<TestInput> inputs = {{"x", random_f32({2, 5, 3}, 1), Role::kFeed}};
    const ir::Model m = make_graph_model({make_node("LRN", {"x"}, {"y"},
                                                    {int_attr("size", size), float_attr("alpha", 0.3f), float_attr("beta", 0.75f),
                                                     float_attr("bias", 1.5f)})},
                                         inputs, {"y"}, 13);
    check_against_reference(m, inputs, [&](const Values& v) {
      return std::vector<std::vector<double>>{lrn(v.at("x"), 2, 5, 3, size, 0.3f, 0.75f, 1.5f)};
    });
  }
}

}  // namespace ember::grad_test
