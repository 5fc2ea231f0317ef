#include "passes/quantize/cholesky.h"

#include <algorithm>
#include <cmath>

#include "runtime/gemm/sgemm.h"
#include "runtime/parallel.h"

namespace ember::passes::quant {
namespace {

constexpr int64_t kBlock = 64;

// Left-looking Cholesky of the diagonal block [j0, j1): earlier blocks' contributions were
// already subtracted by the trailing updates.
bool factor_diagonal_block(float* a, int64_t n, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const float* aj = a + j * n;
    double d = aj[j];
    for (int64_t k = j0; k < j; ++k) d -= double(aj[k]) * double(aj[k]);
    if (!(d > 0)) return false;
    const double ljj = std::sqrt(d);
    a[j * n + j] = static_cast<float>(ljj);
    for (int64_t i = j + 1; i < j1; ++i) {
      float* ai = a + i * n;
      double s = ai[j];
      for (int64_t k = j0; k < j; ++k) s -= double(ai[k]) * double(aj[k]);
      ai[j] = static_cast<float>(s / ljj);
    }
  }
  return true;
}

// Rows below the diagonal block: L21 = A21 L11^-T, one independent forward substitution per row.
void solve_panel(float* a, int64_t n, int64_t j0, int64_t j1) {
  runtime::parallel_for(n - j1, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = j1 + b; i < j1 + e; ++i) {
      float* ai = a + i * n;
      for (int64_t j = j0; j < j1; ++j) {
        const float* lj = a + j * n;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t k = j0; k < j; ++k) s += double(ai[k]) * double(lj[k]);
        ai[j] = static_cast<float>((double(ai[j]) - s) / double(lj[j]));
      }
    }
  });
}

}  // namespace

bool cholesky_lower(std::vector<float>& a, int64_t n) {
  float* p = a.data();
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    if (!factor_diagonal_block(p, n, j0, j1)) return false;
    if (j1 == n) break;
    solve_panel(p, n, j0, j1);
    // A22 -= L21 L21^T (the full square; only its lower triangle is used later).
    const int64_t m = n - j1;
    runtime::sgemm(false, true, m, m, j1 - j0, -1.0f, p + j1 * n + j0, n, p + j1 * n + j0, n, 1.0f, p + j1 * n + j1, n);
  }
  for (int64_t i = 0; i < n; ++i) std::fill(p + i * n + i + 1, p + (i + 1) * n, 0.0f);
  return true;
}

std::vector<float> invert_lower(const std::vector<float>& l, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n * n), 0.0f), t;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock), m = i1 - i0;
    // The diagonal block's inverse, row by row.
    for (int64_t r = i0; r < i1; ++r) {
      const float* lr = l.data() + r * n;
      const double inv = 1.0 / double(lr[r]);
      for (int64_t c = i0; c < r; ++c) {
        double s = 0;
        for (int64_t k = c; k < r; ++k) s += double(lr[k]) * double(x[size_t(k * n + c)]);
        x[size_t(r * n + c)] = static_cast<float>(-s * inv);
      }
      x[size_t(r * n + r)] = static_cast<float>(inv);
    }
    if (i0 == 0) continue;
    // X[i, :i0] = -X[ii] (L[i, :i0] X[:i0, :i0])
    t.assign(static_cast<size_t>(m * i0), 0.0f);
    runtime::sgemm(false, false, m, i0, i0, 1.0f, l.data() + i0 * n, n, x.data(), n, 0.0f, t.data(), i0);
    runtime::sgemm(false, false, m, i0, m, -1.0f, x.data() + i0 * n + i0, n, t.data(), i0, 0.0f, x.data() + i0 * n, n);
  }
  return x;
}

}  // namespace ember::passes::quant
