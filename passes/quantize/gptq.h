// GPTQ: quantization with error feedback guided by the layer's input statistics
// (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", 2022).
// A linear layer y = x W^T with W [rows = outputs, cols = inputs] is quantized column by
// column so as to minimise ||X W^T - X Q^T||^2 over calibration inputs X [n, cols]:
//   H = 2/n X^T X,  damped by damp * mean(diag H);  U = upper Cholesky factor of H^-1
//   for each column i: q_i = quant(w_i); e = (w_i - q_i) / U[i][i]; w_j -= e * U[i][j] (j > i)
// The updates of later columns are applied lazily, a block of 128 columns at a time
// (one matrix product per block), and inside a block one group (or 32 columns) at a time:
// rank-1 steps within the group, one product for the rest of the block. With blocked quantization the scale of a group is chosen
// when the loop reaches the group's first column, from the weights as updated by then.
// Inputs whose variance is zero ("dead" columns) get H[i][i] = 1 and zero weights.
// Memory: rows never interact (each row's error feedback uses only U and its own errors), so
// the working copy of W is taken about 32 MB of rows at a time (GptqOptions::chunk_bytes); H is factored in place
// (one [cols, cols] matrix besides H, which is freed once U exists).
#pragma once
#include <cstdint>
#include <vector>

#include "ir/status.h"
#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

// Streams calibration inputs of one layer into X^T X (lower triangle), never storing X.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t dim);
  // Adds the rows of x [rows, dim] (row-major).
  void add(const float* x, int64_t rows);
  // Adds another accumulator of the same dimension (layers reading the same weight).
  void merge(const HessianAccumulator& other);
  int64_t dim() const { return dim_; }
  int64_t samples() const { return samples_; }
  // H = 2/n X^T X, full symmetric, row-major [dim, dim].
  std::vector<float> hessian() const;
  // Mean of x^2 per input channel (diag of X^T X / n): per-column weights for clipping.
  std::vector<float> mean_square() const;
  // Frees the calling thread's scratch matrix once its accumulators are complete.
  static void release_scratch();

 private:
  // Each batch's X^T X is one float matrix product (lower-triangle tiles, into a scratch
  // matrix shared by all accumulators of the thread) added into the sum. The sum keeps only
  // the lower triangle, packed, in float: a 1536-wide layer input costs 4.7 MB instead of
  // 28 MB, which keeps GPTQ over all of GPT-2's layers within 4x the model's size. Float
  // suffices: a few hundred batch sums of non-negative-diagonal terms lose ~1e-5 relative,
  // far below GPTQ's damping (1% of the mean diagonal).
  static constexpr int64_t kTile = 256;
  size_t packed_index(int64_t i, int64_t j) const { return size_t(i * (i + 1) / 2 + j); }  // j <= i
  int64_t dim_;
  int64_t samples_ = 0;
  std::vector<float> sum_;  // X^T X, lower triangle packed by rows
};

// Upper-triangular U (float, row-major [n, n]) with (H + diag_add I)^-1 = U^T U, through a
// blocked float Cholesky (cholesky.h). Fails (invalid_input) when that is not positive definite.
Result<std::vector<float>> inverse_upper_cholesky(const std::vector<float>& h, int64_t n, double diag_add = 0);

struct GptqOptions {
  double damp = 0.01;            // fraction of mean(diag H) added to the diagonal
  int64_t block_columns = 128;   // lazy-update block (rounded up to a multiple of the group)
  int64_t chunk_bytes = 32 << 20;  // working copy of the weights, rows at a time (same codes at any size)
  ClipMode clip = ClipMode::kMse;
};

// Quantizes w [rows, cols] with `hessian` [cols, cols] (from HessianAccumulator::hessian()),
// which it consumes: pass it with std::move where the caller does not need it again.
// The damping grows tenfold (up to three times) when H is not positive definite.
Result<QuantizedMatrix> gptq_quantize(const float* w, int64_t rows, int64_t cols, int64_t group, QuantFormat f,
                                      std::vector<float> hessian, const GptqOptions& options);

// trace(D H D^T) for D [rows, cols] and a float H [cols, cols]: the summed squared output
// error of the weight error D over the inputs H was built from (without the factor 2/n).
double hessian_quadratic(const float* d, int64_t rows, int64_t cols, const std::vector<float>& h);

// Up to `max` evenly spaced row indices of [0, rows): output errors of wide layers are
// estimated on a sample of output channels, since each costs a [K, K] product.
std::vector<int64_t> sample_rows(int64_t rows, int64_t max);

// Output error of a quantization, trace((W - Q) H (W - Q)^T) / trace(W H W^T): the relative
// squared error of the layer's outputs over the calibration inputs H was built from.
double relative_output_error(const float* w, const QuantizedMatrix& q, const std::vector<float>& hessian);

// ||orig - eff|| / ||orig|| and, with a Hessian, the relative output error (estimated on
// `sample` evenly spaced output channels), where orig = w / s and eff = dequant(q) / s per
// column (s = 1 without AWQ scaling). output_error is -1 without a Hessian.
struct WeightError {
  double error = 0, output_error = -1;
};
WeightError weight_error(const std::vector<float>& w, const QuantizedMatrix& q, const std::vector<float>* s,
                         const std::vector<float>* hessian, int64_t sample);

}  // namespace ember::passes::quant
