// Recovery of the consumer layer after FFN neurons are removed, without training.
// The consumer computes y = W a + b with W [M, N] (canonical [channels, reduction]); the
// neurons split into kept S and removed P, and pruning leaves y' = W_S a_S + b.
//   none: y' as it is.
//   bias: FLAP's compensation, b' = b + W_P E[a_P]: the removed neurons' mean contribution.
//   lsq:  the least squares refit of the kept weights with an intercept,
//           min_{W', b'} E ||W a + b - W' a_S - b'||^2,
//         whose solution predicts a_P linearly from a_S: with Sigma the covariance of a,
//           B = Sigma_PS (Sigma_SS + lambda I)^-1,  W' = W_S + W_P B,
//           b' = b + W_P (E[a_P] - B E[a_S]).
//         lambda = damp * mean(diag Sigma_SS) (ridge damping); one Cholesky of Sigma_SS per
//         layer. Sigma comes from the layer-input analysis (X^T X / n - mu mu^T) of the
//         unpruned model. A consumer without a bias refits without the intercept (the
//         uncentered X^T X / n, mu = 0).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/analysis/layer_inputs.h"

namespace ember::passes::prune {

enum class Recovery { kNone, kBias, kLsq, kLsqSequential };  // kLsqSequential: sequential_refit.h
Result<Recovery> parse_recovery(const std::string& name);  // none | bias | lsq | lsq-seq
std::string recovery_name(Recovery recovery);

struct ConsumerUpdate {
  std::vector<float> weight;  // canonical [M, |S|]
  std::vector<float> bias;    // [M], or empty when the consumer has none
};

// The consumer input's covariance [N, N] (`centered`: the consumer has a bias, so the refit has an
// intercept) or uncentered second moment, from the layer-input statistics.
std::vector<double> input_moments(const analysis::LayerInputStats& stats, int64_t n, bool centered);

// The statistics of `input` (a consumer's input of width `n`, with X^T X and the per-channel sums);
// invalid input naming `who` (the option that needs them) when they are missing or of another width.
Result<const analysis::LayerInputStats*> consumer_input_stats(const analysis::LayerInputAnalysis::Output& inputs,
                                                              const std::string& input, int64_t n, const std::string& who);

// input_moments of `input`'s statistics for select=obs, which the lsq refit then reuses (one
// [N, N] build per consumer); invalid input naming `input` when they are missing or of another width.
Result<std::vector<double>> obs_input_moments(const analysis::LayerInputAnalysis::Output& inputs, const std::string& input,
                                              int64_t n, bool centered);

// The ridge solve shared by the refits and OBS selection: L^-1 for the lower Cholesky factor L
// of A + lambda I (A float [n, n]), lambda = damp * mean_diag with damp raised tenfold, at most
// four tries, until that is positive definite; nullopt when it never is.
struct DampedFactor {
  std::vector<float> linv;  // L^-1, lower [n, n]
  double lambda = 0;        // the ridge that succeeded
};
std::optional<DampedFactor> damped_inverse_factor(const std::vector<float>& a, int64_t n, double damp, double mean_diag);

// `weight` canonical [M, N]; `bias` [M] or empty; `kept` and `removed` sorted neuron indices;
// `stats` the consumer input's statistics (may be null for kNone); `sigma` their input_moments
// (centered when `bias` is not empty) when the caller built them already (select=obs), else null.
Result<ConsumerUpdate> recover_consumer(const std::vector<float>& weight, const std::vector<float>& bias, int64_t M,
                                        int64_t N, const std::vector<int64_t>& kept, const std::vector<int64_t>& removed,
                                        Recovery recovery, const analysis::LayerInputStats* stats, double damp,
                                        const std::vector<double>* sigma = nullptr);

}  // namespace ember::passes::prune
