// Internal to runtime/qgemm: the per-ISA tile kernels the driver dispatches to. Each
// qgemm_<isa>.cc exports one table of constant data and function pointers, so nothing in those
// files runs before the driver has checked isa_supported().
#pragma once
#include <cmath>
#include <cstdint>

namespace ember::runtime::qgemm {

// Multiply-adds below which a chunk of work is not worth waking another thread for (the driver's
// and the INT4 requantized kernel's threading over the same tiles).
constexpr int64_t kMinMacsPerThread = int64_t{1} << 18;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The epilogue of qgemm.h, with per-row and per-column arrays indexed from the tile's origin.
struct Epilogue {
  int64_t K = 0;
  const int32_t* a_zp = nullptr;      // per row
  const int32_t* row_term = nullptr;  // per row: rowsum(A) - K * a_zp; null when B has no zero points
  const int32_t* col_sums = nullptr;  // per column (padded to whole panels)
  const int32_t* b_zp = nullptr;      // per column (padded), or null
  const float* a_scale = nullptr;     // per row
  const float* b_scale = nullptr;     // per column (not padded: partial loads)
  const float* bias = nullptr;        // per column (not padded), or null
  bool relu = false;
  float* c_f32 = nullptr;             // exactly one of c_f32 / c_i32
  int32_t* c_i32 = nullptr;
  int64_t ldc = 0;
  int64_t c_col0 = 0;  // the product column stored in C's first column (C may hold a block of them)
};

// One register tile: rows [row0, row0 + m) and columns [col0, col0 + n) of C.
struct TileArgs {
  int64_t k_quads = 0;
  const uint8_t* a = nullptr;  // row row0 of A; rows lda apart, 4 * k_quads readable bytes each
  int64_t lda = 0;
  const int8_t* b = nullptr;   // the panel of column col0; next panels panel_bytes apart
  int64_t panel_bytes = 0;
  int m = 0, n = 0;            // 1..mr rows, 1..nr columns
  int64_t row0 = 0, col0 = 0;
  const Epilogue* ep = nullptr;
};

struct Kernels {
  int mr, nr;  // register tile; nr is a multiple of the panel width
  void (*tile)(const TileArgs&);
  // Optional faster tile for weights without -128 (PackedB::has_int8_min() false): it
  // multiplies (A - 128) instead of A, so the driver adds 128 to the zero points of A in the
  // column-sum term. Null when the ISA has no such shortcut.
  void (*tile_shifted_a)(const TileArgs&);
};

// The tile kernels of the ISA level in use (qgemm.cc; also for runtime/int4's requantized
// panels, which are in the packed-B layout).
const Kernels& active_kernels();

extern const Kernels kScalarKernels;
extern const Kernels kAvx2Kernels;
extern const Kernels kAvxVnniKernels;
extern const Kernels kAvx512Kernels;

// The reference epilogue for one value (scalar kernel and tests).
inline void store_result(const Epilogue& ep, int64_t row, int64_t col, int32_t acc) {
  int32_t v = acc - ep.a_zp[row] * ep.col_sums[col];
  if (ep.b_zp) v -= ep.b_zp[col] * ep.row_term[row];
  if (ep.c_i32) {
    ep.c_i32[row * ep.ldc + col - ep.c_col0] = v;
    return;
  }
  // One rounding for scale and bias, like the SIMD paths' FMA, so all paths agree bit for bit.
  const float scale = ep.a_scale[row] * ep.b_scale[col];
  float f = ep.bias ? std::fma(static_cast<float>(v), scale, ep.bias[col]) : static_cast<float>(v) * scale;
  if (ep.relu && !(f > 0.0f)) f = 0.0f;
  ep.c_f32[row * ep.ldc + col - ep.c_col0] = f;
}

}  // namespace ember::runtime::qgemm
