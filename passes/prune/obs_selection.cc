#include "passes/prune/obs_selection.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "passes/prune/recovery.h"
#include "runtime/gemm/sgemm.h"

namespace ember::passes::prune {
namespace {

// In-place Cholesky of a small symmetric [d, d] matrix, then its inverse (both in double);
// l and linv are scratch, kept by the caller across the greedy scan's many calls.
bool invert_small(std::vector<double>& a, int64_t d, std::vector<double>& l, std::vector<double>& linv) {
  l.assign(size_t(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = a[size_t(i * d + j)];
      for (int64_t k = 0; k < j; ++k) s -= l[size_t(i * d + k)] * l[size_t(j * d + k)];
      if (i == j) {
        if (!(s > 0)) return false;
        l[size_t(i * d + i)] = std::sqrt(s);
      } else {
        l[size_t(i * d + j)] = s / l[size_t(j * d + j)];
      }
    }
  linv.assign(size_t(d * d), 0.0);  // L^-1, lower
  for (int64_t i = 0; i < d; ++i) {
    linv[size_t(i * d + i)] = 1.0 / l[size_t(i * d + i)];
    for (int64_t j = 0; j < i; ++j) {
      double s = 0;
      for (int64_t k = j; k < i; ++k) s += l[size_t(i * d + k)] * linv[size_t(k * d + j)];
      linv[size_t(i * d + j)] = -s / l[size_t(i * d + i)];
    }
  }
  for (int64_t i = 0; i < d; ++i)  // A^-1 = L^-T L^-1
    for (int64_t j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t k = std::max(i, j); k < d; ++k) s += linv[size_t(k * d + i)] * linv[size_t(k * d + j)];
      a[size_t(i * d + j)] = s;
    }
  return true;
}

// (Sigma + lambda I)^-1 as doubles [N, N], through one float Cholesky; escalates the damping if needed.
Result<std::vector<double>> damped_inverse(const std::vector<double>& sigma, int64_t n, double damp) {
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += sigma[size_t(i * n + i)];
  mean_diag = std::max(mean_diag / static_cast<double>(std::max<int64_t>(n, 1)), 1e-12);
  const auto factor = damped_inverse_factor(std::vector<float>(sigma.begin(), sigma.end()), n, damp, mean_diag);
  if (!factor) return internal_error("prune-structured: select=obs: the input covariance is not positive definite even with damping");
  std::vector<float> inv(size_t(n * n));
  runtime::sgemm(true, false, n, n, n, 1.0f, factor->linv.data(), n, factor->linv.data(), n, 0.0f, inv.data(), n);  // L^-T L^-1
  return std::vector<double>(inv.begin(), inv.end());
}

struct ObsState {
  int64_t m = 0, n = 0;
  std::vector<double> wt;    // W^T [N, M]: row k is the consumer's column k
  std::vector<double> hinv;  // [N, N]
  std::vector<double> l, linv;  // invert_small's scratch
};

// tr(W_C A^-1 W_C^T) with A = Hinv_CC; `ainv` receives A^-1. Infinity when A is singular.
double unit_cost(ObsState& s, const std::vector<int64_t>& c, std::vector<double>& ainv) {
  const int64_t d = static_cast<int64_t>(c.size());
  ainv.assign(size_t(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) ainv[size_t(i * d + j)] = s.hinv[size_t(c[size_t(i)] * s.n + c[size_t(j)])];
  if (!invert_small(ainv, d, s.l, s.linv)) return std::numeric_limits<double>::infinity();
  double cost = 0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double a = ainv[size_t(i * d + j)];
      const double* wi = &s.wt[size_t(c[size_t(i)] * s.m)];
      const double* wj = &s.wt[size_t(c[size_t(j)] * s.m)];
      double dot = 0;
      for (int64_t o = 0; o < s.m; ++o) dot += wi[o] * wj[o];
      cost += a * dot;
    }
  return cost;
}

// Removes the channels `c` and refits the rest: W -= W_C G, Hinv -= Hinv_:C G, G = A^-1 Hinv_C:.
void remove_unit(ObsState& s, const std::vector<int64_t>& c, const std::vector<double>& ainv) {
  const int64_t d = static_cast<int64_t>(c.size()), n = s.n, m = s.m;
  std::vector<double> g(size_t(d * n), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double a = ainv[size_t(i * d + j)];
      const double* row = &s.hinv[size_t(c[size_t(j)] * n)];
      for (int64_t k = 0; k < n; ++k) g[size_t(i * n + k)] += a * row[k];
    }
  std::vector<double> wc(size_t(d * m)), hc(size_t(n * d));
  for (int64_t i = 0; i < d; ++i) std::copy_n(&s.wt[size_t(c[size_t(i)] * m)], m, &wc[size_t(i * m)]);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < d; ++i) hc[size_t(k * d + i)] = s.hinv[size_t(k * n + c[size_t(i)])];
  for (int64_t k = 0; k < n; ++k) {
    double* wk = &s.wt[size_t(k * m)];
    double* hk = &s.hinv[size_t(k * n)];
    for (int64_t i = 0; i < d; ++i) {
      const double gk = g[size_t(i * n + k)], h = hc[size_t(k * d + i)];
      const double* wi = &wc[size_t(i * m)];
      for (int64_t o = 0; o < m; ++o) wk[o] -= gk * wi[o];
      const double* gi = &g[size_t(i * n)];
      for (int64_t l = 0; l < n; ++l) hk[l] -= h * gi[l];
    }
  }
}

}  // namespace

Result<std::vector<int64_t>> select_by_obs(const std::vector<float>& weight, int64_t M, int64_t N,
                                           const std::vector<double>& sigma,
                                           const std::vector<std::vector<int64_t>>& units, int64_t count, double damp) {
  if (weight.size() != size_t(M * N) || sigma.size() != size_t(N * N))
    return invalid_input("prune-structured: select=obs: the consumer's weight or input statistics have the wrong size");
  for (const auto& u : units)
    for (int64_t c : u)
      if (c < 0 || c >= N) return invalid_input("prune-structured: select=obs: a unit's channel is out of range");
  count = std::clamp<int64_t>(count, 0, static_cast<int64_t>(units.size()));
  ObsState s;
  s.m = M, s.n = N;
  EMBER_ASSIGN_OR_RETURN(s.hinv, damped_inverse(sigma, N, damp));
  s.wt.resize(size_t(N * M));
  for (int64_t o = 0; o < M; ++o)
    for (int64_t k = 0; k < N; ++k) s.wt[size_t(k * M + o)] = weight[size_t(o * N + k)];
  std::vector<bool> gone(units.size(), false);
  std::vector<int64_t> removed;
  std::vector<double> ainv;
  for (int64_t step = 0; step < count; ++step) {
    size_t best = units.size();
    double best_cost = std::numeric_limits<double>::infinity();
    for (size_t u = 0; u < units.size(); ++u) {
      if (gone[u]) continue;
      const double cost = unit_cost(s, units[u], ainv);
      if (best == units.size() || cost < best_cost) best = u, best_cost = cost;
    }
    if (best == units.size() || !std::isfinite(best_cost)) break;  // nothing left that can be removed
    unit_cost(s, units[best], ainv);  // the winner's A^-1 again (deterministic), not copied at each improvement
    remove_unit(s, units[best], ainv);
    gone[best] = true;
    removed.push_back(static_cast<int64_t>(best));
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace ember::passes::prune
