#include "passes/prune/sequential_refit.h"

#include <algorithm>

#include "passes/prune/recovery.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/interpreter.h"

namespace ember::passes::prune {
namespace {

// Second moments over the observed rows: A = sum x~_S x~_S^T, C = sum x~_S x^T, and the sums.
struct CrossMoments {
  int64_t s = 0, n = 0, rows = 0;
  std::vector<float> a, c;
  std::vector<double> sum_s, sum_x;
};

// The consumer input of `model` on `feeds`, as [rows, n] floats.
Result<std::vector<float>> observe(runtime::Interpreter& interp, const std::map<std::string, Tensor>& feeds,
                                   const std::string& value, int64_t n) {
  std::vector<float> out;
  auto it = feeds.find(value);
  if (it != feeds.end()) return it->second.to_floats();
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& t) -> Status {
    if (name == value && t.dtype() == DType::kF32 && t.rank() >= 1 && t.dim(t.rank() - 1) == n)
      out.assign(t.data<float>(), t.data<float>() + t.numel());
    return Status::Ok();
  };
  auto run = interp.run(feeds, observer);
  if (!run.ok()) return run.status();
  if (out.empty()) return invalid_input("prune-structured: the run never produced '" + value + "'");
  return out;
}

Result<CrossMoments> cross_moments(const ir::Model& original, const ir::Model& pruned,
                                   const calibration::CalibrationSet& calib, const std::string& value, int64_t n,
                                   const std::vector<int64_t>& kept, int64_t max_rows) {
  EMBER_ASSIGN_OR_RETURN(auto before, runtime::Interpreter::create(original));
  EMBER_ASSIGN_OR_RETURN(auto after, runtime::Interpreter::create(pruned));
  CrossMoments m;
  m.s = static_cast<int64_t>(kept.size()), m.n = n;
  m.a.assign(size_t(m.s * m.s), 0.0f), m.c.assign(size_t(m.s * n), 0.0f);
  m.sum_s.assign(size_t(m.s), 0.0), m.sum_x.assign(size_t(n), 0.0);
  for (int64_t b = 0; b < calib.num_batches() && m.rows < max_rows; ++b) {
    const auto feeds = calib.batch(b);
    EMBER_ASSIGN_OR_RETURN(const std::vector<float> x, observe(*before, feeds, value, n));
    EMBER_ASSIGN_OR_RETURN(const std::vector<float> xt, observe(*after, feeds, value, n));
    if (x.size() != xt.size()) return internal_error("prune-structured: '" + value + "' changed shape after pruning");
    const int64_t rows = static_cast<int64_t>(x.size()) / n;
    std::vector<float> xs(size_t(rows * m.s));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < m.s; ++j) xs[size_t(r * m.s + j)] = xt[size_t(r * n + kept[size_t(j)])];
    runtime::sgemm(true, false, m.s, m.s, rows, 1.0f, xs.data(), m.s, xs.data(), m.s, 1.0f, m.a.data(), m.s);
    runtime::sgemm(true, false, m.s, n, rows, 1.0f, xs.data(), m.s, x.data(), n, 1.0f, m.c.data(), n);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < m.s; ++j) m.sum_s[size_t(j)] += xs[size_t(r * m.s + j)];
      for (int64_t k = 0; k < n; ++k) m.sum_x[size_t(k)] += x[size_t(r * n + k)];
    }
    m.rows += rows;
  }
  if (m.rows == 0) return invalid_input("prune-structured: the calibration set has no rows for the refit");
  return m;
}

}  // namespace

Result<ConsumerUpdate> refit_on_pruned(const ir::Model& original, const ir::Model& pruned,
                                       const calibration::CalibrationSet& calib, const FfnGroup& g,
                                       const std::vector<float>& weight, const std::vector<float>& bias,
                                       const std::vector<int64_t>& kept, double damp, int64_t max_rows) {
  const int64_t n = g.neurons, M = g.second.channels;
  EMBER_ASSIGN_OR_RETURN(CrossMoments m, cross_moments(original, pruned, calib, g.second.input, n, kept, max_rows));
  const int64_t s = m.s;
  const double inv = 1.0 / static_cast<double>(m.rows);
  const bool centered = !bias.empty();
  std::vector<double> mu_s(size_t(s), 0.0), mu_x(size_t(n), 0.0);
  for (int64_t j = 0; j < s && centered; ++j) mu_s[size_t(j)] = m.sum_s[size_t(j)] * inv;
  for (int64_t k = 0; k < n && centered; ++k) mu_x[size_t(k)] = m.sum_x[size_t(k)] * inv;
  std::vector<float> sigma(size_t(s * s)), cross(size_t(s * n));
  double mean_diag = 0;
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t j = 0; j < s; ++j) sigma[size_t(i * s + j)] = static_cast<float>(m.a[size_t(i * s + j)] * inv - mu_s[size_t(i)] * mu_s[size_t(j)]);
    for (int64_t k = 0; k < n; ++k) cross[size_t(i * n + k)] = static_cast<float>(m.c[size_t(i * n + k)] * inv - mu_s[size_t(i)] * mu_x[size_t(k)]);
    mean_diag += sigma[size_t(i * s + i)];
  }
  mean_diag = std::max(mean_diag / static_cast<double>(std::max<int64_t>(s, 1)), 1e-12);
  std::vector<float> kw(size_t(s * M));  // K W^T  [s, M]
  runtime::sgemm(false, true, s, M, n, 1.0f, cross.data(), n, weight.data(), n, 0.0f, kw.data(), M);
  const auto factor = damped_inverse_factor(sigma, s, damp, mean_diag);
  if (!factor)
    return internal_error("prune-structured: the kept neurons' covariance of '" + g.second.input +
                          "' is not positive definite even with damping");
  const std::vector<float>& linv = factor->linv;
  std::vector<float> rhs = kw, half(size_t(s * M)), wt(size_t(s * M));
  for (int64_t j = 0; j < s; ++j)  // the ridge pulls toward the kept weights, not toward zero
    for (int64_t o = 0; o < M; ++o)
      rhs[size_t(j * M + o)] += static_cast<float>(factor->lambda) * weight[size_t(o * n + kept[size_t(j)])];
  runtime::sgemm(false, false, s, M, s, 1.0f, linv.data(), s, rhs.data(), M, 0.0f, half.data(), M);
  runtime::sgemm(true, false, s, M, s, 1.0f, linv.data(), s, half.data(), M, 0.0f, wt.data(), M);  // W'^T
  ConsumerUpdate out;
  out.weight.resize(size_t(M * s));
  for (int64_t o = 0; o < M; ++o)
    for (int64_t j = 0; j < s; ++j) out.weight[size_t(o * s + j)] = wt[size_t(j * M + o)];
  out.bias = bias;
  for (int64_t o = 0; o < M && centered; ++o) {
    double add = 0;
    for (int64_t k = 0; k < n; ++k) add += static_cast<double>(weight[size_t(o * n + k)]) * mu_x[size_t(k)];
    for (int64_t j = 0; j < s; ++j) add -= static_cast<double>(out.weight[size_t(o * s + j)]) * mu_s[size_t(j)];
    out.bias[size_t(o)] += static_cast<float>(add);
  }
  return out;
}

}  // namespace ember::passes::prune
