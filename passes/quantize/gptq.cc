#include "passes/quantize/gptq.h"

#include <algorithm>
#include <cmath>

#include "passes/quantize/cholesky.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/parallel.h"

namespace ember::passes::quant {

namespace {
thread_local std::vector<float> t_scratch;  // one batch's X^T X, shared by the thread's accumulators
}  // namespace

void HessianAccumulator::release_scratch() { std::vector<float>().swap(t_scratch); }

HessianAccumulator::HessianAccumulator(int64_t dim) : dim_(dim), sum_(static_cast<size_t>(dim * (dim + 1) / 2), 0.0f) {}

void HessianAccumulator::add(const float* x, int64_t rows) {
  if (rows <= 0) return;
  std::vector<float>& scratch = t_scratch;
  if (scratch.size() < static_cast<size_t>(dim_ * dim_)) scratch.resize(static_cast<size_t>(dim_ * dim_));
  // Only the lower triangle of X^T X is needed: tiles on or below the diagonal.
  for (int64_t i0 = 0; i0 < dim_; i0 += kTile) {
    const int64_t mi = std::min(kTile, dim_ - i0);
    for (int64_t j0 = 0; j0 <= i0; j0 += kTile) {
      const int64_t mj = std::min(kTile, dim_ - j0);
      runtime::sgemm(true, false, mi, mj, rows, 1.0f, x + i0, dim_, x + j0, dim_, 0.0f, scratch.data() + i0 * dim_ + j0, dim_);
    }
  }
  for (int64_t i = 0; i < dim_; ++i) {
    float* row = sum_.data() + packed_index(i, 0);
    const float* s = scratch.data() + i * dim_;
    for (int64_t j = 0; j <= i; ++j) row[j] += s[j];
  }
  samples_ += rows;
}

void HessianAccumulator::merge(const HessianAccumulator& other) {
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += other.sum_[i];
  samples_ += other.samples_;
}

std::vector<float> HessianAccumulator::hessian() const {
  std::vector<float> h(static_cast<size_t>(dim_ * dim_));
  const double f = samples_ > 0 ? 2.0 / static_cast<double>(samples_) : 0.0;
  // In 64 x 64 tiles (the mirrored writes then stay within 64 rows instead of striding the
  // whole matrix per element), each block of rows on its own thread: a block of rows i
  // writes h[i][j] and h[j][i] for its own i only.
  constexpr int64_t kFill = 64;
  runtime::parallel_for((dim_ + kFill - 1) / kFill, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t i0 = b0 * kFill; i0 < std::min(dim_, b1 * kFill); i0 += kFill)
      for (int64_t j0 = 0; j0 <= i0; j0 += kFill)
        for (int64_t i = i0; i < std::min(dim_, i0 + kFill); ++i)
          for (int64_t j = j0; j < std::min(i + 1, j0 + kFill); ++j)
            h[size_t(i * dim_ + j)] = h[size_t(j * dim_ + i)] = static_cast<float>(f * sum_[packed_index(i, j)]);
  });
  return h;
}

std::vector<float> HessianAccumulator::mean_square() const {
  std::vector<float> d(static_cast<size_t>(dim_), 0.0f);
  if (samples_ == 0) return d;
  for (int64_t i = 0; i < dim_; ++i) d[size_t(i)] = static_cast<float>(sum_[packed_index(i, i)] / double(samples_));
  return d;
}

Result<std::vector<float>> inverse_upper_cholesky(const std::vector<float>& h, int64_t n, double diag_add) {
  // With P the index reversal and P H P = L L^T:  H^-1 = P L^-T L^-1 P = U^T U for the
  // upper-triangular U = P L^-1 P.
  // Reversing both indices of a row-major [n, n] matrix reverses its flat array.
  std::vector<float> a(h.rbegin(), h.rend());
  for (int64_t i = 0; i < n; ++i) a[size_t(i * n + i)] = static_cast<float>(double(a[size_t(i * n + i)]) + diag_add);
  if (!cholesky_lower(a, n)) return invalid_input("the Hessian is not positive definite");
  invert_lower_in_place(a, n);
  std::reverse(a.begin(), a.end());
  return a;
}

namespace {

constexpr int64_t kTileRows = 64;  // rows of a sub-block quantized together, across the rows in SIMD

// Columns [s0, s1) of rows [r0, r0 + n) of the working weights, a chunk of the matrix's rows
// that starts at row `row0` of the matrix (q and the row parameters are indexed by row0 + r).
struct SubBlock {
  float* w;
  const float* u;
  int64_t cols, s0, s1, n, r0, row0;
};

// Quantizes the sub-block column by column with error feedback within it (rank-1 steps), the
// rows side by side: the tile is transposed so that each step is a vector over the rows.
// Writes the codes, the groups' parameters (blocked: the sub-block is one group, its scale
// from the weights as updated so far) and the scaled errors e = (w - dequant) / U[i][i].
void quantize_sub_block(const SubBlock& sb, const GroupParams* row_params, int64_t g, QuantFormat f, ClipMode clip,
                        QuantizedMatrix& q, float* err, int64_t err_stride) {
  const int64_t width = sb.s1 - sb.s0, n = sb.n;
  const size_t nn = static_cast<size_t>(n);
  std::vector<float> tile(nn * size_t(width)), inv(nn), scale(nn), zp(nn), e(nn), code(nn);
  for (int64_t r = 0; r < n; ++r) {
    const float* wr = sb.w + (sb.r0 + r) * sb.cols;
    GroupParams p;
    if (row_params) {
      p = row_params[sb.r0 + r];
    } else {
      p = choose_params(wr + sb.s0, std::min(g, sb.cols - sb.s0), 1, nullptr, f, clip);
      const size_t gi = size_t((sb.row0 + sb.r0 + r) * q.groups() + sb.s0 / g);
      q.scales[gi] = p.scale;
      q.zero_points[gi] = p.zero_point;
    }
    inv[size_t(r)] = 1.0f / p.scale, scale[size_t(r)] = p.scale, zp[size_t(r)] = static_cast<float>(p.zero_point);
    for (int64_t c = 0; c < width; ++c) tile[size_t(c * n + r)] = wr[sb.s0 + c];
  }
  constexpr float kMagic = 12582912.0f, kLimit = 4194304.0f;  // round half to even, as round_half_even
  const float qmin = static_cast<float>(f.qmin()), qmax = static_cast<float>(f.qmax());
  for (int64_t c = 0; c < width; ++c) {
    const int64_t i = sb.s0 + c;
    const float* ui = sb.u + i * sb.cols;
    const float inv_d = 1.0f / ui[i];
    const float* x = tile.data() + c * n;
#pragma omp simd
    for (int64_t r = 0; r < n; ++r) {
      float t = x[r] * inv[size_t(r)];
      t = t > -kLimit ? t : -kLimit;  // beyond 2^22 the code clamps anyway (NaN gives qmin)
      t = t < kLimit ? t : kLimit;
      float k = ((t + kMagic) - kMagic) + zp[size_t(r)];
      k = k < qmin ? qmin : (k > qmax ? qmax : k);
      code[size_t(r)] = k;
      e[size_t(r)] = (x[r] - (k - zp[size_t(r)]) * scale[size_t(r)]) * inv_d;
    }
    for (int64_t r = 0; r < n; ++r) {
      q.codes[size_t((sb.row0 + sb.r0 + r) * sb.cols + i)] = static_cast<int32_t>(code[size_t(r)]);
      err[(sb.r0 + r) * err_stride + c] = e[size_t(r)];
    }
    for (int64_t j = c + 1; j < width; ++j) {
      const float uij = ui[sb.s0 + j];
      float* y = tile.data() + j * n;
#pragma omp simd
      for (int64_t r = 0; r < n; ++r) y[r] -= e[size_t(r)] * uij;
    }
  }
}

// Rows [row0, row0 + rows) of the matrix, copied into `w` (dead columns zeroed), quantized
// column block by column block with error feedback through U. Rows are independent in GPTQ,
// so a chunk of rows gives the codes the whole matrix would.
void quantize_rows(const float* w_in, int64_t row0, int64_t rows, int64_t cols, const std::vector<float>& u,
                   const std::vector<int64_t>& dead, const GptqOptions& options, QuantizedMatrix& q, std::vector<float>& w,
                   std::vector<float>& err) {
  const QuantFormat f = q.format;
  const int64_t g = q.group;
  const bool per_channel = g == cols;
  w.assign(w_in + row0 * cols, w_in + (row0 + rows) * cols);
  for (int64_t i : dead)
    for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + i)] = 0;
  // Per-channel scales come from the original rows, before any error feedback.
  std::vector<GroupParams> row_params;
  if (per_channel) {
    row_params.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) row_params[size_t(r)] = choose_params(w.data() + r * cols, cols, 1, nullptr, f, options.clip);
  }
  const int64_t block = per_channel ? std::max<int64_t>(options.block_columns, 1)
                                    : std::max<int64_t>(1, (std::max(options.block_columns, g) + g - 1) / g) * g;
  // Inside a block, sub-blocks of one group (32 columns per channel): rank-1 steps within the
  // sub-block, then one product for the rest of the block, so that most of the work is GEMM.
  const int64_t sub = std::min(block, per_channel ? int64_t(32) : g);
  err.resize(static_cast<size_t>(rows * block));
  for (int64_t b0 = 0; b0 < cols; b0 += block) {
    const int64_t b1 = std::min(cols, b0 + block), nb = b1 - b0;
    for (int64_t s0 = b0; s0 < b1; s0 += sub) {
      const int64_t s1 = std::min(b1, s0 + sub);
      runtime::parallel_for(rows, kTileRows, [&](int64_t r0, int64_t r1) {
        for (int64_t t0 = r0; t0 < r1; t0 += kTileRows) {
          SubBlock sb{w.data(), u.data(), cols, s0, s1, std::min(r1, t0 + kTileRows) - t0, t0, row0};
          quantize_sub_block(sb, per_channel ? row_params.data() : nullptr, g, f, options.clip, q, err.data() + (s0 - b0), nb);
        }
      });
      // The rest of the block: W[:, s1:b1] -= E[:, s0:s1] U[s0:s1, s1:b1].
      if (s1 < b1)
        runtime::sgemm(false, false, rows, b1 - s1, s1 - s0, -1.0f, err.data() + (s0 - b0), nb, u.data() + s0 * cols + s1, cols,
                       1.0f, w.data() + s1, cols);
    }
    // Lazy update of the columns after the block: W[:, b1:] -= E U[b0:b1, b1:].
    if (b1 < cols)
      runtime::sgemm(false, false, rows, cols - b1, nb, -1.0f, err.data(), nb, u.data() + b0 * cols + b1, cols, 1.0f,
                     w.data() + b1, cols);
  }
  if (per_channel)
    for (int64_t r = 0; r < rows; ++r) {
      q.scales[size_t(row0 + r)] = row_params[size_t(r)].scale;
      q.zero_points[size_t(row0 + r)] = row_params[size_t(r)].zero_point;
    }
}

// Rows per chunk: about `bytes` of weights, whole tiles, the chunks of equal size.
int64_t chunk_rows(int64_t rows, int64_t cols, int64_t bytes) {
  const int64_t most = std::max<int64_t>(kTileRows, bytes / (cols * int64_t(sizeof(float))) / kTileRows * kTileRows);
  const int64_t chunks = (rows + most - 1) / most;
  return ((rows + chunks - 1) / chunks + kTileRows - 1) / kTileRows * kTileRows;
}

}  // namespace

Result<QuantizedMatrix> gptq_quantize(const float* w_in, int64_t rows, int64_t cols, int64_t group, QuantFormat f,
                                      std::vector<float> h, const GptqOptions& options) {
  if (static_cast<int64_t>(h.size()) != cols * cols)
    return internal_error("GPTQ: Hessian size " + std::to_string(h.size()) + " does not match " + std::to_string(cols) + " columns");
  // Dead inputs: nothing flows through them, so their weights do not matter.
  std::vector<int64_t> dead;
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    float& d = h[size_t(i * cols + i)];
    if (d == 0) {
      d = 1;
      dead.push_back(i);
    }
    mean_diag += d;
  }
  mean_diag /= static_cast<double>(cols);

  std::vector<float> u;
  double damp = options.damp;
  for (int attempt = 0;; ++attempt) {
    auto factor = inverse_upper_cholesky(h, cols, damp * mean_diag);
    if (factor.ok()) {
      u = std::move(factor).value();
      break;
    }
    if (attempt == 3) return factor.status();
    damp = std::max(damp, 1e-4) * 10;
  }
  std::vector<float>().swap(h);  // U replaces H: one [cols, cols] matrix from here on

  // The working copy of the weights holds a chunk of rows at a time, not the whole matrix
  // (a 32000-row LM head is 262 MB of float).
  QuantizedMatrix q = make_quantized_matrix(rows, cols, group, f);
  std::vector<float> w, err;
  const int64_t step = chunk_rows(rows, cols, options.chunk_bytes);
  for (int64_t r0 = 0; r0 < rows; r0 += step) quantize_rows(w_in, r0, std::min(step, rows - r0), cols, u, dead, options, q, w, err);
  return q;
}

double hessian_quadratic(const float* d, int64_t rows, int64_t cols, const std::vector<float>& h) {
  std::vector<float> dh(static_cast<size_t>(rows * cols));
  runtime::sgemm(false, false, rows, cols, cols, 1.0f, d, cols, h.data(), cols, 0.0f, dh.data(), cols);
  double s = 0;
  for (size_t i = 0; i < dh.size(); ++i) s += double(dh[i]) * double(d[i]);
  return s;
}

std::vector<int64_t> sample_rows(int64_t rows, int64_t max) {
  std::vector<int64_t> out;
  const int64_t count = std::min(rows, std::max<int64_t>(max, 1));
  for (int64_t i = 0; i < count; ++i) out.push_back(i * rows / count);
  return out;
}

double relative_output_error(const float* w, const QuantizedMatrix& q, const std::vector<float>& hessian) {
  const int64_t rows = q.rows, cols = q.cols;
  std::vector<float> d(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) d[size_t(r * cols + c)] = w[r * cols + c] - q.value(r, c);
  const double den = hessian_quadratic(w, rows, cols, hessian);
  return den > 0 ? hessian_quadratic(d.data(), rows, cols, hessian) / den : 0.0;
}

WeightError weight_error(const std::vector<float>& w, const QuantizedMatrix& q, const std::vector<float>* s,
                         const std::vector<float>* hessian, int64_t sample) {
  const int64_t K = q.cols;
  auto orig_at = [&](int64_t row, int64_t c) { return w[size_t(row * K + c)] / (s ? (*s)[size_t(c)] : 1.0f); };
  auto diff_at = [&](int64_t row, int64_t c) { return orig_at(row, c) - q.value(row, c) / (s ? (*s)[size_t(c)] : 1.0f); };
  double num = 0, den = 0;
  for (int64_t row = 0; row < q.rows; ++row)
    for (int64_t c = 0; c < K; ++c) {
      const double o = orig_at(row, c), d = diff_at(row, c);
      num += d * d;
      den += o * o;
    }
  WeightError e;
  e.error = den > 0 ? std::sqrt(num / den) : 0;
  if (!hessian) return e;
  const std::vector<int64_t> rows = sample_rows(q.rows, sample);
  std::vector<float> orig, d;
  for (int64_t row : rows)
    for (int64_t c = 0; c < K; ++c) {
      orig.push_back(orig_at(row, c));
      d.push_back(diff_at(row, c));
    }
  const int64_t n = static_cast<int64_t>(rows.size());
  const double base = hessian_quadratic(orig.data(), n, K, *hessian);
  e.output_error = base > 0 ? hessian_quadratic(d.data(), n, K, *hessian) / base : 0;
  return e;
}

}  // namespace ember::passes::quant
