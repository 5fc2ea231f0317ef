#include "passes/prune/recovery.h"

#include "passes/quantize/cholesky.h"
#include "runtime/gemm/sgemm.h"

namespace ember::passes::prune {
namespace {

// Sigma restricted to rows `a` and columns `b`, as floats [|a|, |b|].
std::vector<float> block_of(const std::vector<double>& sigma, int64_t n, const std::vector<int64_t>& a,
                            const std::vector<int64_t>& b) {
  std::vector<float> out(a.size() * b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j) out[i * b.size() + j] = static_cast<float>(sigma[size_t(a[i] * n + b[j])]);
  return out;
}

// Covariance (or second moment when `centered` is false) of the consumer's input, [N, N].
std::vector<double> moments(const analysis::LayerInputStats& stats, int64_t n, const std::vector<double>& mu) {
  const std::vector<float> h = stats.xtx->hessian();  // 2/rows X^T X
  std::vector<double> sigma(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      sigma[size_t(i * n + j)] = 0.5 * h[size_t(i * n + j)] - (mu.empty() ? 0.0 : mu[size_t(i)] * mu[size_t(j)]);
  return sigma;
}

// B^T = (Sigma_SS + lambda I)^-1 Sigma_SP, [|S|, |P|], through one Cholesky; escalates the damping if needed.
Result<std::vector<float>> regression(const std::vector<double>& sigma, int64_t n, const std::vector<int64_t>& kept,
                                      const std::vector<int64_t>& removed, double damp) {
  const int64_t s = static_cast<int64_t>(kept.size()), p = static_cast<int64_t>(removed.size());
  const std::vector<float> sp = block_of(sigma, n, kept, removed);
  double mean_diag = 0;
  for (int64_t k : kept) mean_diag += sigma[size_t(k * n + k)];
  mean_diag = std::max(mean_diag / static_cast<double>(std::max<int64_t>(s, 1)), 1e-12);
  const auto factor = damped_inverse_factor(block_of(sigma, n, kept, kept), s, damp, mean_diag);
  if (!factor) return internal_error("prune-structured: the kept neurons' covariance is not positive definite even with damping");
  const std::vector<float>& linv = factor->linv;
  std::vector<float> half(size_t(s * p)), out(size_t(s * p));
  runtime::sgemm(false, false, s, p, s, 1.0f, linv.data(), s, sp.data(), p, 0.0f, half.data(), p);  // L^-1 Sigma_SP
  runtime::sgemm(true, false, s, p, s, 1.0f, linv.data(), s, half.data(), p, 0.0f, out.data(), p);   // L^-T (...)
  return out;
}

}  // namespace

std::vector<double> input_moments(const analysis::LayerInputStats& stats, int64_t n, bool centered) {
  return moments(stats, n, centered ? stats.mean() : std::vector<double>());
}

Result<const analysis::LayerInputStats*> consumer_input_stats(const analysis::LayerInputAnalysis::Output& inputs,
                                                              const std::string& input, int64_t n, const std::string& who) {
  auto it = inputs.stats.find(input);
  if (it == inputs.stats.end() || !it->second.xtx || it->second.xtx->dim() != n || it->second.sum.size() != size_t(n))
    return invalid_input("prune-structured: " + who + " has no calibration statistics of '" + input + "'");
  return &it->second;
}

Result<std::vector<double>> obs_input_moments(const analysis::LayerInputAnalysis::Output& inputs, const std::string& input,
                                              int64_t n, bool centered) {
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerInputStats* stats, consumer_input_stats(inputs, input, n, "select=obs"));
  return input_moments(*stats, n, centered);
}

std::optional<DampedFactor> damped_inverse_factor(const std::vector<float>& a, int64_t n, double damp, double mean_diag) {
  for (int attempt = 0; attempt < 4; ++attempt, damp *= 10) {
    std::vector<float> l = a;
    for (int64_t i = 0; i < n; ++i) l[size_t(i * n + i)] += static_cast<float>(damp * mean_diag);
    if (!quant::cholesky_lower(l, n)) continue;
    return DampedFactor{quant::invert_lower(l, n), damp * mean_diag};
  }
  return std::nullopt;
}

Result<Recovery> parse_recovery(const std::string& name) {
  if (name == "none") return Recovery::kNone;
  if (name == "bias") return Recovery::kBias;
  if (name == "lsq") return Recovery::kLsq;
  if (name == "lsq-seq") return Recovery::kLsqSequential;
  return invalid_input("prune-structured: unknown recovery '" + name + "' (none, bias, lsq, lsq-seq)");
}

std::string recovery_name(Recovery recovery) {
  switch (recovery) {
    case Recovery::kNone: return "none";
    case Recovery::kBias: return "bias";
    case Recovery::kLsq: return "lsq";
    case Recovery::kLsqSequential: return "lsq-seq";
  }
  return "lsq";
}

Result<ConsumerUpdate> recover_consumer(const std::vector<float>& weight, const std::vector<float>& bias, int64_t M,
                                        int64_t N, const std::vector<int64_t>& kept, const std::vector<int64_t>& removed,
                                        Recovery recovery, const analysis::LayerInputStats* stats, double damp,
                                        const std::vector<double>* sigma) {
  const int64_t s = static_cast<int64_t>(kept.size()), p = static_cast<int64_t>(removed.size());
  ConsumerUpdate out;
  out.weight.resize(size_t(M * s));
  for (int64_t o = 0; o < M; ++o)
    for (int64_t j = 0; j < s; ++j) out.weight[size_t(o * s + j)] = weight[size_t(o * N + kept[size_t(j)])];
  out.bias = bias;
  if (recovery == Recovery::kNone || p == 0) return out;
  if (recovery == Recovery::kLsqSequential) return invalid_input("prune-structured: lsq-seq needs the models (sequential_refit.h)");
  if (!stats || !stats->xtx || stats->xtx->dim() != N || (stats->sum.size() != size_t(N)))
    return invalid_input("prune-structured: no calibration statistics of the consumer's input for recovery");
  const std::vector<double> mu = bias.empty() ? std::vector<double>() : stats->mean();
  // W_P as [M, |P|]
  std::vector<float> wp(size_t(M * p));
  for (int64_t o = 0; o < M; ++o)
    for (int64_t j = 0; j < p; ++j) wp[size_t(o * p + j)] = weight[size_t(o * N + removed[size_t(j)])];
  std::vector<double> shift(mu.empty() ? 0 : size_t(p));  // E[a_P] - B E[a_S]
  for (size_t j = 0; j < shift.size(); ++j) shift[j] = mu[size_t(removed[j])];
  if (recovery == Recovery::kLsq) {
    if (sigma && sigma->size() != size_t(N * N)) return internal_error("prune-structured: the consumer's input moments have the wrong size");
    const std::vector<double> own = sigma ? std::vector<double>() : moments(*stats, N, mu);
    EMBER_ASSIGN_OR_RETURN(const std::vector<float> bt, regression(sigma ? *sigma : own, N, kept, removed, damp));
    // W' = W_S + W_P B: [M, |P|] x [|P|, |S|] (B = bt^T)
    runtime::sgemm(false, true, M, s, p, 1.0f, wp.data(), p, bt.data(), p, 1.0f, out.weight.data(), s);
    for (size_t j = 0; j < shift.size(); ++j)
      for (int64_t i = 0; i < s; ++i) shift[j] -= static_cast<double>(bt[size_t(i * p) + j]) * mu[size_t(kept[size_t(i)])];
  }
  for (int64_t o = 0; o < M && !out.bias.empty(); ++o) {
    double add = 0;
    for (int64_t j = 0; j < p; ++j) add += static_cast<double>(wp[size_t(o * p + j)]) * shift[size_t(j)];
    out.bias[size_t(o)] += static_cast<float>(add);
  }
  return out;
}

}  // namespace ember::passes::prune
