// A [rows, cols] row-major matrix transposed into [cols, rows], in 32 x 32 tiles (both sides
// stay in cache, instead of one side striding a whole row per element) and on all threads.
// The weight layouts of quantization (canonical [N, K] vs ONNX MatMul's [K, N]) go through it.
#pragma once
#include <algorithm>
#include <cstdint>

#include "runtime/parallel.h"

namespace ember::passes::quant {

template <class T>
void transpose_into(const T* in, int64_t rows, int64_t cols, T* out) {
  constexpr int64_t kTile = 32;
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  runtime::parallel_for(row_tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t r0 = t0 * kTile; r0 < std::min(rows, t1 * kTile); r0 += kTile)
      for (int64_t c0 = 0; c0 < cols; c0 += kTile)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) out[c * rows + r] = in[r * cols + c];
  });
}

}  // namespace ember::passes::quant
