// Internal to runtime/int4: the per-ISA kernels the int4_gemm driver dispatches to. Each
// int4_<isa>.cc exports one table, so nothing in those files runs before the driver has
// checked isa_supported().
#pragma once
#include <cstddef>
#include <cstdint>

#include "runtime/int4/int4_format.h"
#include "runtime/qgemm/qgemm_kernels.h"

namespace ember::runtime::int4 {

// Output columns of groups [g0, g1) for activation rows [m0, m1).
struct Int4Args {
  const Int4Weights* w = nullptr;
  const Int4Activations* x = nullptr;
  int64_t g0 = 0, g1 = 0, m0 = 0, m1 = 0;
  const float* bias = nullptr;  // N values, or null
  float* y = nullptr;
  int64_t ldy = 0;
  // The unpacked kernel's block seeds, M x blocks: -kUnpackedShift * the block's activation sum.
  const int32_t* seeds = nullptr;
};

// One whole block of activations (kBlock values) to int8 codes, their scale and their sum, as
// int4_act.cc's scalar rule computes them (the same integers and floats on every path).
using QuantizeBlockFn = void (*)(const float* x, float scale_multiplier, int8_t* q, float* scale, int32_t* sum);
// The same for `blocks` whole blocks in a row (x, q: blocks * kBlock values; scales, sums: blocks).
using QuantizeRowFn = void (*)(const float* x, int64_t blocks, float scale_multiplier, int8_t* q, float* scales, int32_t* sums);

// The unpacked kernel stores q + kUnpackedShift - zero (in [0, 30]) for every zero-point form.
constexpr int32_t kUnpackedShift = 15;

// The requantized kernel's weights (int4_requant.cc), one group of 16 columns: requantized to
// int8 into `panel` (the INT8 GEMM's packed layout, qgemm.h: [quad][16 columns][4 k],
// w.blocks() * kRequantBlockBytes bytes), with each column's sum of its int8 values and its
// scale (times the scale multiplier).
using RequantizeGroupFn = void (*)(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales);
constexpr int64_t kRequantBlockBytes = int64_t{kBlock} * kGroupRows;  // 512: one block of one group

struct Int4Kernels {
  void (*run)(const Int4Args&);
  // Many rows (int4_unpacked.h): g0 and g1 on panel_groups boundaries, but g1 may be groups().
  void (*run_unpacked)(const Int4Args&);
  int panel_groups;
  QuantizeBlockFn quantize_block;
  QuantizeRowFn quantize_row = nullptr;  // null: quantize_block on each block
  RequantizeGroupFn requantize_group = nullptr;  // null: requantize_group_scalar
  // Whether Int4ActForm::kAuto takes the requantized kernel from kRequantMinRows rows. Not on
  // AVX2: without VPDPBUSD the INT8 tiles it would run on emulate it for signed weights, and the
  // unpacked block kernel is faster there (0.70-0.77x INT8 against 0.98-1.02x, bench/RESULTS.md).
  bool requant_prefill = true;
};

// The kernels of the ISA level in use.
const Int4Kernels& int4_kernels();

// The scalar rule for `count` <= kBlock values, zero-padded to a whole block (int4_act.cc).
void quantize_block_scalar(const float* x, int64_t count, float scale_multiplier, int8_t* q, float* scale, int32_t* sum);
void quantize_whole_block_scalar(const float* x, float scale_multiplier, int8_t* q, float* scale, int32_t* sum);

// A thread-local, 64-byte aligned buffer of at least `bytes` for the unpacked panel (kept for
// the thread's next call; int4_gemm.cc).
uint8_t* unpack_scratch(size_t bytes);

// The requantization rule (int4_requant.cc) and its AVX-512 form (int4_requant_avx512.cc,
// after dispatch), which gives the same bytes, sums and scales (as int4_requant_ymm.h's AVX2 form).
void requantize_group_scalar(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales);
void requantize_group_avx512(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales);

// y = x W + bias with per-row activations, panel by panel: each qgemm register tile's columns
// are requantized into the calling thread's scratch, then `tiles` sweep every row over them
// (int4_requant.cc).
void requantized_gemm(RequantizeGroupFn requantize, const qgemm::Kernels& tiles, const Int4Activations& x,
                      const Int4Weights& w, const float* bias, float* y, int64_t ldy);

// int4_act_avx512.cc (AVX-512 only, after dispatch).
void quantize_block_avx512(const float* x, float scale_multiplier, int8_t* q, float* scale, int32_t* sum);
void quantize_row_avx512(const float* x, int64_t blocks, float scale_multiplier, int8_t* q, float* scales, int32_t* sums);

extern const Int4Kernels kInt4ScalarKernels;
extern const Int4Kernels kInt4Avx2Kernels;
extern const Int4Kernels kInt4AvxVnniKernels;
extern const Int4Kernels kInt4Avx512Kernels;

}  // namespace ember::runtime::int4
