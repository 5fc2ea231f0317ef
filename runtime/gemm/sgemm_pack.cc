#include "runtime/gemm/sgemm_pack.h"

#include <algorithm>
#include <cstring>

namespace ember::runtime::gemm {
namespace {

void pack_a_panel(const MatrixRef& a, int64_t row0, int m, int64_t k0, int64_t depth, float alpha, float* out) {
  if (a.trans) {
    // op(A) rows are columns of the stored matrix: each k is a contiguous run of m floats.
    const float* src = a.data + k0 * a.ld + row0;
    for (int64_t k = 0; k < depth; ++k, src += a.ld, out += m)
      for (int i = 0; i < m; ++i) out[i] = alpha * src[i];
    return;
  }
  // Interleave m contiguous rows; each row is read sequentially.
  for (int i = 0; i < m; ++i) {
    const float* src = a.data + (row0 + i) * a.ld + k0;
    for (int64_t k = 0; k < depth; ++k) out[k * m + i] = alpha * src[k];
  }
}

}  // namespace

void pack_a_block(const MatrixRef& a, int64_t row0, int64_t rows, int64_t k0, int64_t depth, int mr, float alpha,
                  float* out) {
  for (int64_t i = 0; i < rows; i += mr) {
    const int m = static_cast<int>(std::min<int64_t>(mr, rows - i));
    pack_a_panel(a, row0 + i, m, k0, depth, alpha, out + i * depth);
  }
}

void pack_b_panel(const MatrixRef& b, int64_t k0, int64_t depth, int64_t col0, int64_t cols, int nr, float* out) {
  if (!b.trans) {
    const float* src = b.data + k0 * b.ld + col0;
    for (int64_t k = 0; k < depth; ++k, src += b.ld, out += nr) {
      std::memcpy(out, src, cols * sizeof(float));
      std::fill(out + cols, out + nr, 0.0f);
    }
    return;
  }
  // op(B) columns are rows of the stored matrix: read each sequentially, write with stride nr.
  if (cols < nr) {
    for (int64_t k = 0; k < depth; ++k) std::fill(out + k * nr + cols, out + (k + 1) * nr, 0.0f);
  }
  for (int64_t j = 0; j < cols; ++j) {
    const float* src = b.data + (col0 + j) * b.ld + k0;
    for (int64_t k = 0; k < depth; ++k) out[k * nr + j] = src[k];
  }
}

}  // namespace ember::runtime::gemm
