// u8s8 -> s32 GEMM and GEMV: C = (A - a_zp) x (B - b_zp), with a fused epilogue that either
// stores the exact int32 result or turns it into floats:
//   C[m, n] = float(acc) * (a_scale[m] * b_scale[n]) + bias[n]   (then ReLU when asked)
// A is uint8 rows (activations, quantized at run time), B int8 weights packed once at load
// time for VPDPBUSD. Run-time dispatch (runtime/cpu.h): AVX-512 VNNI, AVX-VNNI, AVX2 (an exact
// vpmaddubsw form) and scalar; every path gives the same integers. Multi-threaded over
// column panels (or rows, when there are few columns and many rows).
//
// Any 8-bit combination reduces to u8 x s8: uint8 weights are shifted by -128 together with
// their zero points, int8 activations by +128 (quantize_act.h), which leaves every
// difference (value - zero point) unchanged.
//
// The integer correction used by the epilogue, with a_zp per row and b_zp per column:
//   (A - a_zp)(B - b_zp) = A.B - a_zp * colsum(B)[n] - b_zp[n] * (rowsum(A)[m] - K * a_zp[m])
#pragma once
#include <cstdint>
#include <vector>

#include "ir/status.h"
#include "runtime/pack_store.h"
#include "runtime/weight_arena.h"

namespace ember::runtime::qgemm {

// Columns per packed panel and depth of one VPDPBUSD group: panel p holds, for each group of
// four k, 16 columns x 4 bytes: byte (p, q, c, i) = B[4q + i][16p + c]. All ISAs share it.
constexpr int kPanelWidth = 16;
constexpr int kQuad = 4;

inline int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

class PackedB {
 public:
  PackedB() = default;
  // B is K x N (trans_b false) or N x K (trans_b true), ldb elements between stored rows,
  // int8 or (b_unsigned) uint8. zero_points: per column (N values) or null for zeros.
  static PackedB pack(const void* b, bool b_unsigned, bool trans_b, int64_t K, int64_t N, int64_t ldb,
                      const int32_t* zero_points);

  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  int64_t k_quads() const { return k_quads_; }
  int64_t panel_bytes() const { return k_quads_ * kQuad * kPanelWidth; }
  const int8_t* panels() const { return panels_.get(); }
  // Per column, padded with zeros to whole panels.
  const int32_t* col_sums() const { return col_sums_.get(); }
  const int32_t* zero_points() const { return zero_points_.get(); }  // null when all zero
  // Whether some packed weight is -128 (the AVX2 kernels then need their slower exact form).
  bool has_int8_min() const { return has_int8_min_; }
  // B[k][n] in the shifted (s8) domain, from the packed form: for tests.
  int32_t at(int64_t k, int64_t n) const;

  // The packed weight as one PackStore image (qgemm_image.cc): a 64-byte header, the panels,
  // the column sums, the zero points. The parts stay valid while this object or a copy lives.
  std::vector<PackStore::Part> image_parts();
  // A weight that views an image (no copy); invalid_input when it is not one of K x N.
  static Result<PackedB> from_image(ArenaPtr<uint8_t> image, size_t bytes, int64_t K, int64_t N);

 private:
  int64_t K_ = 0, N_ = 0, k_quads_ = 0;
  bool has_int8_min_ = false;
  ArenaPtr<int8_t> panels_;
  ArenaPtr<int32_t> col_sums_;
  ArenaPtr<int32_t> zero_points_;
  ArenaPtr<uint8_t> header_;  // the image header, in the arena so that moves keep it in place
};

// The A operand: M rows of uint8, `lda` bytes apart. Each row must hold round_up(K, 4) bytes,
// the ones past K being zero (quantize_act.h writes rows that way).
struct QuantizedA {
  const uint8_t* data = nullptr;
  int64_t lda = 0;
  int64_t M = 0;
  const int32_t* zero_points = nullptr;  // per row
  const float* scales = nullptr;         // per row; float output only
  const int32_t* row_sums = nullptr;     // per row; needed only when B has zero points
};

// What the epilogue writes: exactly one of f32 / i32 / f32_parts.
struct QGemmOutput {
  float* f32 = nullptr;
  // Instead of f32: the columns in blocks of part_cols, block i at f32_parts[i] with rows
  // part_cols apart (a product that a Split would cut up). part_cols must be a multiple of
  // tile_columns(); no activation.
  float* const* f32_parts = nullptr;
  int64_t part_cols = 0;
  int32_t* i32 = nullptr;
  int64_t ldc = 0;
  const float* b_scales = nullptr;  // per column; float output
  const float* bias = nullptr;      // per column, or null
  bool relu = false;
  // Applied in place to each finished tile of the float output while it is still in cache
  // (vector_math.h's gelu_erf / gelu_tanh): y = f(y) for every row of the tile.
  void (*activation)(const float* x, float* y, int64_t n) = nullptr;
};

// The columns of one register tile of the ISA level in use.
int64_t tile_columns();

// C = epilogue((A - a_zp) x (B - b_zp)) with the kernels of the ISA level in use.
void gemm_u8s8(const QuantizedA& a, const PackedB& b, const QGemmOutput& out);

// The same product with the plain reference loops (tests compare every ISA path with it).
void gemm_u8s8_reference(const QuantizedA& a, const PackedB& b, const QGemmOutput& out);

}  // namespace ember::runtime::qgemm
