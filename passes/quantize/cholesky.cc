#include "passes/quantize/cholesky.h"

#include <algorithm>
#include <cmath>

#include "runtime/gemm/sgemm.h"
#include "runtime/parallel.h"

namespace ember::passes::quant {
namespace {

constexpr int64_t kBlock = 64;
constexpr int64_t kPanel = 256;  // columns per product where only a triangle is wanted

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

// Rows below the diagonal block: L21 = A21 L11^-T, one matrix product with the small block's
// inverse (computed in double) instead of a forward substitution per row.
void solve_panel(float* a, int64_t n, int64_t j0, int64_t j1, std::vector<float>& scratch) {
  const int64_t bs = j1 - j0, m = n - j1;
  std::vector<double> inv(static_cast<size_t>(bs * bs), 0.0);
  for (int64_t r = 0; r < bs; ++r) {
    const float* lr = a + (j0 + r) * n + j0;
    const double d = 1.0 / double(lr[r]);
    for (int64_t c = 0; c < r; ++c) {
      double t = 0;
      for (int64_t k = c; k < r; ++k) t += double(lr[k]) * inv[size_t(k * bs + c)];
      inv[size_t(r * bs + c)] = -t * d;
    }
    inv[size_t(r * bs + r)] = d;
  }
  std::vector<float> inv_f(inv.begin(), inv.end());
  scratch.resize(static_cast<size_t>(m * bs));
  runtime::sgemm(false, true, m, bs, bs, 1.0f, a + j1 * n + j0, n, inv_f.data(), bs, 0.0f, scratch.data(), bs);
  runtime::parallel_for(m, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::copy_n(scratch.data() + r * bs, bs, a + (j1 + r) * n + j0);
  });
}

}  // namespace

bool cholesky_lower(std::vector<float>& a, int64_t n) {
  float* p = a.data();
  std::vector<float> scratch;
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    if (!factor_diagonal_block(p, n, j0, j1)) return false;
    if (j1 == n) break;
    solve_panel(p, n, j0, j1, scratch);
    // A22 -= L21 L21^T, its lower triangle only: one product per panel of columns, from the
    // panel's diagonal down (half the work of the full square).
    for (int64_t c0 = j1; c0 < n; c0 += kPanel) {
      const int64_t cw = std::min(kPanel, n - c0);
      runtime::sgemm(false, true, n - c0, cw, j1 - j0, -1.0f, p + c0 * n + j0, n, p + c0 * n + j0, n, 1.0f, p + c0 * n + c0, n);
    }
  }
  for (int64_t i = 0; i < n; ++i) std::fill(p + i * n + i + 1, p + (i + 1) * n, 0.0f);
  return true;
}

std::vector<float> invert_lower(const std::vector<float>& l, int64_t n) {
  std::vector<float> x(l);
  for (int64_t i = 0; i < n; ++i) std::fill(x.begin() + i * n + i + 1, x.begin() + (i + 1) * n, 0.0f);
  invert_lower_in_place(x, n);
  return x;
}

// Row block [i0, i1) of X = L^-1 over the same block of L: its diagonal block first (row r
// reads L[r][c..r] before writing X[r][c], and X's finished rows above), then the columns
// left of it from L's untouched part of the block and the finished X[:i0, :i0].
void invert_lower_in_place(std::vector<float>& l, int64_t n) {
  float* x = l.data();
  std::vector<float> t;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock), m = i1 - i0;
    // The diagonal block's inverse, row by row.
    for (int64_t r = i0; r < i1; ++r) {
      float* xr = x + r * n;
      const double inv = 1.0 / double(xr[r]);
      for (int64_t c = i0; c < r; ++c) {
        double s = 0;
        for (int64_t k = c; k < r; ++k) s += double(xr[k]) * double(x[k * n + c]);
        xr[c] = static_cast<float>(-s * inv);
      }
      xr[r] = static_cast<float>(inv);
    }
    if (i0 == 0) continue;
    // X[i, :i0] = -X[ii] (L[i, :i0] X[:i0, :i0]); X[:i0, :i0] is lower triangular, so each
    // panel of its columns [c0, c1) needs the rows from c0 only.
    t.assign(static_cast<size_t>(m * i0), 0.0f);
    for (int64_t c0 = 0; c0 < i0; c0 += kPanel) {
      const int64_t c1 = std::min(i0, c0 + kPanel);
      runtime::sgemm(false, false, m, c1 - c0, i0 - c0, 1.0f, x + i0 * n + c0, n, x + c0 * n + c0, n, 0.0f, t.data() + c0, i0);
    }
    runtime::sgemm(false, false, m, i0, m, -1.0f, x + i0 * n + i0, n, t.data(), i0, 0.0f, x + i0 * n, n);
  }
}

}  // namespace ember::passes::quant
