// GPTQ: the dense factorisation, Hessian streaming, and the claim that matters: with
// correlated inputs GPTQ's output error is well below round-to-nearest's.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "passes/quantize/cholesky.h"
#include "passes/quantize/gptq.h"

using namespace ember::passes::quant;

namespace {

// X [n, k] with strongly correlated columns: X = Z A, A random mixing with a decaying spectrum.
std::vector<float> correlated_inputs(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t latent = k / 4;
  std::vector<float> a(size_t(latent * k)), z(size_t(n * latent)), x(size_t(n * k), 0.0f);
  for (int64_t i = 0; i < latent; ++i)
    for (int64_t j = 0; j < k; ++j) a[size_t(i * k + j)] = normal(rng) / float(1 + i);
  for (float& v : z) v = normal(rng);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < latent; ++i)
      for (int64_t j = 0; j < k; ++j) x[size_t(r * k + j)] += z[size_t(r * latent + i)] * a[size_t(i * k + j)];
  for (float& v : x) v += 0.05f * normal(rng);  // keeps H positive definite
  return x;
}

std::vector<float> hessian_of(const std::vector<float>& x, int64_t n, int64_t k) {
  HessianAccumulator acc(k);
  acc.add(x.data(), n / 2);  // two batches, as a calibration stream would give them
  acc.add(x.data() + (n / 2) * k, n - n / 2);
  return acc.hessian();
}

}  // namespace

TEST_CASE("gptq: upper Cholesky factor of the inverse") {
  std::mt19937 rng(1);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int64_t n = 37;
  std::vector<double> m(size_t(n * n)), h(size_t(n * n), 0.0);
  for (double& v : m) v = normal(rng);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t t = 0; t < n; ++t) h[size_t(i * n + j)] += m[size_t(i * n + t)] * m[size_t(j * n + t)];
      if (i == j) h[size_t(i * n + j)] += 1.0;
    }
  auto u = inverse_upper_cholesky(std::vector<float>(h.begin(), h.end()), n);
  REQUIRE(u.ok());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) CHECK((*u)[size_t(i * n + j)] == 0.0f);
  // (U^T U) H = I
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (int64_t a = 0; a < n; ++a) {
        double uu = 0;
        for (int64_t t = 0; t <= std::min(i, a); ++t) uu += double((*u)[size_t(t * n + i)]) * double((*u)[size_t(t * n + a)]);
        v += uu * h[size_t(a * n + j)];
      }
      worst = std::max(worst, std::fabs(v - (i == j ? 1.0 : 0.0)));
    }
  CHECK(worst < 1e-3);

  std::vector<float> indefinite = {1, 2, 2, 1};
  CHECK(!inverse_upper_cholesky(indefinite, 2).ok());
}

TEST_CASE("gptq: the in-place triangular inverse over several blocks") {
  // 150 rows: three 64-row blocks, so the off-diagonal products run too.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 150;
  std::vector<float> l(size_t(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) l[size_t(i * n + j)] = i == j ? 2.0f + std::fabs(normal(rng)) : 0.1f * normal(rng);
  std::vector<float> garbage = l;  // invert_lower ignores the strict upper triangle
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) garbage[size_t(i * n + j)] = 7.0f;
  const std::vector<float> x = invert_lower(garbage, n);
  std::vector<float> in_place = l;
  invert_lower_in_place(in_place, n);
  CHECK(in_place == x);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (int64_t t = 0; t < n; ++t) v += double(l[size_t(i * n + t)]) * double(x[size_t(t * n + j)]);
      worst = std::max(worst, std::fabs(v - (i == j ? 1.0 : 0.0)));
    }
  CHECK(worst < 1e-4);
}

TEST_CASE("gptq: the working copy taken in chunks of rows gives the same codes") {
  // Rows are independent in GPTQ: chunks of 64 rows (and a short last chunk) give exactly the
  // codes, scales and zero points of one copy of the whole matrix, per channel and blocked.
  const int64_t n = 512, k = 96, rows = 200;
  const std::vector<float> h = hessian_of(correlated_inputs(n, k, 11), n, k);
  std::mt19937 rng(12);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * k));
  for (float& v : w) v = normal(rng);
  for (int64_t group : {int64_t(32), k})
    for (QuantFormat f : {QuantFormat{4, true}, QuantFormat{4, false}}) {
      GptqOptions whole, chunked;
      chunked.chunk_bytes = 64 * k * int64_t(sizeof(float));
      auto a = gptq_quantize(w.data(), rows, k, group, f, h, whole);
      auto b = gptq_quantize(w.data(), rows, k, group, f, h, chunked);
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(a->codes == b->codes);
      CHECK(a->scales == b->scales);
      CHECK(a->zero_points == b->zero_points);
    }
}

TEST_CASE("gptq: the Hessian accumulator matches 2/n X^T X") {
  const int64_t n = 50, k = 12;
  const std::vector<float> x = correlated_inputs(n, k, 5);
  const std::vector<float> h = hessian_of(x, n, k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double ref = 0;
      for (int64_t r = 0; r < n; ++r) ref += double(x[size_t(r * k + i)]) * double(x[size_t(r * k + j)]);
      CHECK(h[size_t(i * k + j)] == doctest::Approx(2.0 * ref / double(n)).epsilon(1e-4));
    }
}

TEST_CASE("gptq: lower output error than RTN on correlated inputs") {
  const int64_t n = 2048, k = 256, rows = 24;
  const std::vector<float> x = correlated_inputs(n, k, 11);
  const std::vector<float> h = hessian_of(x, n, k);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> w(size_t(rows * k));
  for (float& v : w) v = normal(rng);

  struct Case {
    QuantFormat f;
    int64_t group;
  };
  for (const Case c : {Case{{4, true}, 32}, Case{{4, false}, 64}, Case{{8, true}, 0}, Case{{4, true}, 0}}) {
    CAPTURE(c.f.text());
    CAPTURE(c.group);
    const QuantizedMatrix rtn = quantize_rtn(w.data(), rows, k, c.group, c.f, ClipMode::kMse);
    GptqOptions options;
    options.block_columns = 96;  // not a multiple of every group: rounded up internally
    auto gptq = gptq_quantize(w.data(), rows, k, c.group, c.f, h, options);
    REQUIRE(gptq.ok());
    CHECK(gptq->groups() == rtn.groups());
    for (int32_t code : gptq->codes) CHECK((code >= c.f.qmin() && code <= c.f.qmax()));
    const double e_rtn = relative_output_error(w.data(), rtn, h);
    const double e_gptq = relative_output_error(w.data(), *gptq, h);
    CHECK(e_gptq < 0.7 * e_rtn);
  }
}

TEST_CASE("gptq: dead input channels get zero weights and do not break the factorisation") {
  const int64_t n = 512, k = 64, rows = 8;
  std::vector<float> x = correlated_inputs(n, k, 4);
  for (int64_t r = 0; r < n; ++r) x[size_t(r * k + 3)] = 0.0f;  // channel 3 never fires
  const std::vector<float> h = hessian_of(x, n, k);
  std::vector<float> w(size_t(rows * k), 0.5f);
  auto q = gptq_quantize(w.data(), rows, k, 32, {4, true}, h, {});
  REQUIRE(q.ok());
  for (int64_t r = 0; r < rows; ++r) CHECK(q->value(r, 3) == 0.0f);
  CHECK(relative_output_error(w.data(), *q, h) < 0.05);
}
