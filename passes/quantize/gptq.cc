#include "passes/quantize/gptq.h"

#include <algorithm>
#include <cmath>

#include "runtime/gemm/sgemm.h"
#include "runtime/parallel.h"

namespace ember::passes::quant {
namespace {

// In place: A = G^T G with G lower triangular (the mirror of the usual Cholesky, eliminating
// from the last index down). Row j of `a` becomes row j of G; only the lower triangle is read.
// Inner loops are contiguous row updates, so they vectorise.
bool factor_reverse_lower(std::vector<double>& a, int64_t n) {
  for (int64_t j = n - 1; j >= 0; --j) {
    double* gj = a.data() + j * n;
    if (!(gj[j] > 0)) return false;
    const double g = std::sqrt(gj[j]);
    gj[j] = g;
    for (int64_t k = 0; k < j; ++k) gj[k] /= g;
    for (int64_t i = 0; i < j; ++i) {
      double* ai = a.data() + i * n;
      const double f = gj[i];
      for (int64_t k = 0; k <= i; ++k) ai[k] -= f * gj[k];
    }
  }
  return true;
}

// X = G^-1 for lower-triangular G (row-major), row by row: row_i(X) = -(sum_m<i G[i][m] row_m(X)) / G[i][i].
std::vector<double> invert_lower(const std::vector<double>& g, int64_t n) {
  std::vector<double> x(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double* xi = x.data() + i * n;
    const double* gi = g.data() + i * n;
    for (int64_t m = 0; m < i; ++m) {
      const double f = gi[m];
      const double* xm = x.data() + m * n;
      for (int64_t k = 0; k <= m; ++k) xi[k] += f * xm[k];
    }
    const double inv = 1.0 / gi[i];
    for (int64_t k = 0; k < i; ++k) xi[k] *= -inv;
    xi[i] = inv;
  }
  return x;
}

}  // namespace

HessianAccumulator::HessianAccumulator(int64_t dim)
    : dim_(dim), sum_(static_cast<size_t>(dim * dim), 0.0), scratch_(static_cast<size_t>(dim * dim)) {}

void HessianAccumulator::add(const float* x, int64_t rows) {
  if (rows <= 0) return;
  runtime::sgemm(true, false, dim_, dim_, rows, 1.0f, x, dim_, x, dim_, 0.0f, scratch_.data(), dim_);
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += scratch_[i];
  samples_ += rows;
}

void HessianAccumulator::merge(const HessianAccumulator& other) {
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += other.sum_[i];
  samples_ += other.samples_;
}

std::vector<double> HessianAccumulator::hessian() const {
  std::vector<double> h(sum_.size());
  const double f = samples_ > 0 ? 2.0 / static_cast<double>(samples_) : 0.0;
  for (int64_t i = 0; i < dim_; ++i)
    for (int64_t j = 0; j <= i; ++j) {  // symmetrise: float sums of the two triangles may differ in the last bit
      const double v = 0.5 * f * (sum_[size_t(i * dim_ + j)] + sum_[size_t(j * dim_ + i)]);
      h[size_t(i * dim_ + j)] = h[size_t(j * dim_ + i)] = v;
    }
  return h;
}

std::vector<float> HessianAccumulator::mean_square() const {
  std::vector<float> d(static_cast<size_t>(dim_), 0.0f);
  if (samples_ == 0) return d;
  for (int64_t i = 0; i < dim_; ++i) d[size_t(i)] = static_cast<float>(sum_[size_t(i * dim_ + i)] / double(samples_));
  return d;
}

Result<std::vector<float>> inverse_upper_cholesky(std::vector<double> h, int64_t n) {
  if (!factor_reverse_lower(h, n)) return invalid_input("the Hessian is not positive definite");
  // H = G^T G  =>  H^-1 = G^-1 G^-T = U^T U with U = (G^-1)^T, upper triangular.
  const std::vector<double> ginv = invert_lower(h, n);
  std::vector<float> u(static_cast<size_t>(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) u[size_t(i * n + j)] = static_cast<float>(ginv[size_t(j * n + i)]);
  return u;
}

Result<QuantizedMatrix> gptq_quantize(const float* w_in, int64_t rows, int64_t cols, int64_t group, QuantFormat f,
                                      std::vector<double> h, const GptqOptions& options) {
  if (static_cast<int64_t>(h.size()) != cols * cols)
    return internal_error("GPTQ: Hessian size " + std::to_string(h.size()) + " does not match " + std::to_string(cols) + " columns");
  std::vector<float> w(w_in, w_in + rows * cols);
  QuantizedMatrix q = make_quantized_matrix(rows, cols, group, f);
  const int64_t g = q.group;
  const bool per_channel = g == cols;

  // Dead inputs: nothing flows through them, so their weights do not matter.
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    double& d = h[size_t(i * cols + i)];
    if (d == 0) {
      d = 1;
      for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + i)] = 0;
    }
    mean_diag += d;
  }
  mean_diag /= static_cast<double>(cols);

  std::vector<float> u;
  double damp = options.damp;
  for (int attempt = 0;; ++attempt) {
    std::vector<double> damped = h;
    for (int64_t i = 0; i < cols; ++i) damped[size_t(i * cols + i)] += damp * mean_diag;
    auto factor = inverse_upper_cholesky(std::move(damped), cols);
    if (factor.ok()) {
      u = std::move(factor).value();
      break;
    }
    if (attempt == 3) return factor.status();
    damp = std::max(damp, 1e-4) * 10;
  }

  // Per-channel scales come from the original rows, before any error feedback.
  std::vector<GroupParams> row_params;
  if (per_channel) {
    row_params.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) row_params[size_t(r)] = choose_params(w.data() + r * cols, cols, 1, nullptr, f, options.clip);
  }

  const int64_t block = per_channel ? std::max<int64_t>(options.block_columns, 1)
                                    : std::max<int64_t>(1, (std::max(options.block_columns, g) + g - 1) / g) * g;
  const int32_t qmin = f.qmin(), qmax = f.qmax();
  std::vector<float> err(static_cast<size_t>(rows * block));
  for (int64_t b0 = 0; b0 < cols; b0 += block) {
    const int64_t b1 = std::min(cols, b0 + block), nb = b1 - b0;
    // Within a block every row is independent: quantize its columns in order with feedback.
    runtime::parallel_for(rows, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* wr = w.data() + r * cols;
        float* er = err.data() + r * nb;
        GroupParams p = per_channel ? row_params[size_t(r)] : GroupParams{};
        float inv = 1.0f / p.scale;
        for (int64_t i = b0; i < b1; ++i) {
          if (!per_channel && i % g == 0) {
            const int64_t n = std::min(g, cols - i);
            p = choose_params(wr + i, n, 1, nullptr, f, options.clip);
            inv = 1.0f / p.scale;
            const size_t gi = size_t(r * q.groups() + i / g);
            q.scales[gi] = p.scale;
            q.zero_points[gi] = p.zero_point;
          }
          const int32_t code = quantize_value(wr[i], inv, p.zero_point, qmin, qmax);
          q.codes[size_t(r * cols + i)] = code;
          const float e = (wr[i] - static_cast<float>(code - p.zero_point) * p.scale) / u[size_t(i * cols + i)];
          const float* ui = u.data() + i * cols;
          for (int64_t j = i + 1; j < b1; ++j) wr[j] -= e * ui[j];
          er[i - b0] = e;
        }
      }
    });
    // Lazy update of the columns after the block: W[:, b1:] -= E U[b0:b1, b1:].
    if (b1 < cols)
      runtime::sgemm(false, false, rows, cols - b1, nb, -1.0f, err.data(), nb, u.data() + b0 * cols + b1, cols, 1.0f,
                     w.data() + b1, cols);
  }
  if (per_channel)
    for (int64_t r = 0; r < rows; ++r) {
      q.scales[size_t(r)] = row_params[size_t(r)].scale;
      q.zero_points[size_t(r)] = row_params[size_t(r)].zero_point;
    }
  return q;
}

double hessian_quadratic(const float* d, int64_t rows, int64_t cols, const std::vector<float>& h) {
  std::vector<float> dh(static_cast<size_t>(rows * cols));
  runtime::sgemm(false, false, rows, cols, cols, 1.0f, d, cols, h.data(), cols, 0.0f, dh.data(), cols);
  double s = 0;
  for (size_t i = 0; i < dh.size(); ++i) s += double(dh[i]) * double(d[i]);
  return s;
}

double relative_output_error(const float* w, const QuantizedMatrix& q, const std::vector<double>& hessian) {
  const int64_t rows = q.rows, cols = q.cols;
  std::vector<float> d(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) d[size_t(r * cols + c)] = w[r * cols + c] - q.value(r, c);
  const std::vector<float> hf(hessian.begin(), hessian.end());
  const double den = hessian_quadratic(w, rows, cols, hf);
  return den > 0 ? hessian_quadratic(d.data(), rows, cols, hf) / den : 0.0;
}

}  // namespace ember::passes::quant
