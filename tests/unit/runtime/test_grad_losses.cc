// Losses of runtime/grad: values against direct formulas, gradients against differences.
#include <cmath>

#include "runtime/grad/losses.h"
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace rg = runtime::grad;

namespace {
// Central differences of a loss over every logit, in double on f32 inputs perturbed by h.
template <class F>
void check_loss_gradient(const Tensor& logits, const Tensor& grad, F loss) {
  for (int64_t i = 0; i < logits.numel(); ++i) {
    Tensor plus = logits.clone(), minus = logits.clone();
    const float h = 1e-2f;
    plus.mutable_data<float>()[i] += h;
    minus.mutable_data<float>()[i] -= h;
    const double numeric = (loss(plus) - loss(minus)) / (2.0 * h);
    CHECK(grad.data<float>()[i] == doctest::Approx(numeric).epsilon(2e-3).scale(1e-3));
  }
}
}  // namespace

TEST_CASE("lm loss: next-token cross-entropy from input ids") {
  const Tensor logits = random_f32({2, 4, 5}, 1);
  const Tensor ids = Tensor::from_vector<int64_t>({2, 4}, {1, 2, 3, 4, 0, 0, 4, 1});
  auto lv = rg::lm_cross_entropy(logits, ids);
  REQUIRE(lv.ok());
  CHECK(lv->terms == 6);
  double expected = 0;
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) {
      const float* row = logits.data<float>() + (b * 4 + t) * 5;
      double z = 0;
      for (int v = 0; v < 5; ++v) z += std::exp(static_cast<double>(row[v]));
      expected += std::log(z) - row[ids.data<int64_t>()[b * 4 + t + 1]];
    }
  CHECK(lv->loss == doctest::Approx(expected / 6));
  // The last position predicts nothing.
  for (int v = 0; v < 5; ++v) CHECK(lv->grad.data<float>()[3 * 5 + v] == 0.0f);
  check_loss_gradient(logits, lv->grad, [&](const Tensor& l) { return rg::lm_cross_entropy(l, ids)->loss; });
  CHECK(rg::lm_cross_entropy(random_f32({2, 7}, 2), ids).status().code() == StatusCode::kInvalidInput);
  CHECK(rg::lm_cross_entropy(logits, Tensor::from_vector<int64_t>({2, 4}, {1, 2, 3, 9, 0, 0, 4, 1})).status().code() ==
        StatusCode::kInvalidInput);
}

TEST_CASE("classification and pseudo-label cross-entropy") {
  const Tensor logits = random_f32({3, 4}, 3);
  const std::vector<int64_t> labels = {2, 0, 3};
  auto lv = rg::classification_cross_entropy(logits, labels);
  REQUIRE(lv.ok());
  CHECK(lv->terms == 3);
  check_loss_gradient(logits, lv->grad, [&](const Tensor& l) { return rg::classification_cross_entropy(l, labels)->loss; });
  auto pseudo = rg::argmax_labels(logits);
  REQUIRE(pseudo.ok());
  for (int b = 0; b < 3; ++b) {
    const float* row = logits.data<float>() + b * 4;
    CHECK(row[(*pseudo)[size_t(b)]] == *std::max_element(row, row + 4));
  }
  CHECK(rg::classification_cross_entropy(logits, {1, 2}).status().code() == StatusCode::kInvalidInput);
  CHECK(rg::classification_cross_entropy(logits, {1, 2, 4}).status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("mse loss and its Gauss-Newton probe") {
  const Tensor y = random_f32({4, 3}, 4), ref = random_f32({4, 3}, 5);
  auto lv = rg::mse(y, ref);
  REQUIRE(lv.ok());
  check_loss_gradient(y, lv->grad, [&](const Tensor& o) { return rg::mse(o, ref)->loss; });
  auto zero = rg::mse(y, y);
  REQUIRE(zero.ok());
  CHECK(zero->loss == 0.0);
  // Probes: mean 0 and variance 1/N per element, so E[(J^T v)^2] = diag(J^T J) / N.
  std::mt19937 rng(1);
  const Tensor big = Tensor::zeros(DType::kF32, {100, 100});
  auto probe = rg::mse_probe(big, rng);
  REQUIRE(probe.ok());
  double sum = 0, squares = 0;
  for (int64_t i = 0; i < big.numel(); ++i) {
    sum += probe->grad.data<float>()[i];
    squares += static_cast<double>(probe->grad.data<float>()[i]) * probe->grad.data<float>()[i];
  }
  CHECK(std::fabs(sum / 1e4) < 4.0 / 1e4);  // ~4 standard errors of the mean (0.01 / 100)
  CHECK(squares / 1e4 == doctest::Approx(1e-4).epsilon(0.05));
}

}  // namespace ember::grad_test
