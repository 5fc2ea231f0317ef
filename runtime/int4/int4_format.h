// INT4 block weights for GEMV / GEMM that run in integer arithmetic: activations are
// quantized to int8 per block of 32 (one float scale per block), each block's 4-bit x 8-bit
// dot product is taken with VPDPBUSD (or an exact AVX2 / scalar equivalent), and only the
// block sums are scaled in float. Dequantizing the weights to fp32 would be compute bound at
// about twice the memory time; this stays bound by the 18 bytes a block of 32 weights costs.
//
// Packed layout, prepared once at load time: output columns (rows of W^T) in groups of 16,
// rows interleaved so one 64-byte vector holds four consecutive k of each of the 16 rows:
//   codes  [group][block][4 x 64 bytes]: byte (h, j, i) = lo nibble: q[16g + j][32b + 8h + i]
//                                                        hi nibble: q[16g + j][32b + 8h + 4 + i]
//   scales [group][block][16] fp16, times scale_multiplier (a power of two that keeps the
//          fp16 values normal)
//   zero points: one value for the whole matrix (symmetric formats: 8), or bytes
//          [group][block][16]
// with w = (q - zero) * scale * scale_multiplier, q in [0, 15].
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "runtime/pack_store.h"
#include "runtime/qgemm/quantize_act.h"
#include "runtime/weight_arena.h"

namespace ember::runtime::int4 {

constexpr int kBlock = 32;        // weights per block along K
constexpr int kGroupRows = 16;    // interleaved rows (output columns) per group
constexpr int kBlockBytes = kBlock * kGroupRows / 2;  // 256 bytes of codes per group and block
static_assert(kBlockBytes == 256);

// 4-bit weights of a [K, N] product before packing, column by column.
struct Int4Source {
  int64_t K = 0, N = 0;
  int64_t block_size = kBlock;   // a multiple of 32
  std::vector<uint8_t> codes;    // N x K codes in [0, 15]
  std::vector<float> scales;     // N x ceil(K / block_size)
  std::vector<uint8_t> zeros;    // N x ceil(K / block_size) in [0, 15]; empty: all 8
  int64_t source_blocks() const { return (K + block_size - 1) / block_size; }
};

class Int4Weights {
 public:
  static Int4Weights pack(const Int4Source& source);

  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  int64_t blocks() const { return blocks_; }
  int64_t groups() const { return groups_; }
  const uint8_t* codes(int64_t group) const { return codes_.get() + group * blocks_ * kBlockBytes; }
  const uint16_t* scales(int64_t group) const { return scales_.get() + group * blocks_ * kGroupRows; }
  // Per-row zero points of a group (blocks x 16 bytes), or null when uniform_zero() applies.
  const uint8_t* zeros(int64_t group) const { return zeros_ ? zeros_.get() + group * blocks_ * kGroupRows : nullptr; }
  int32_t uniform_zero() const { return uniform_zero_; }
  float scale_multiplier() const { return scale_multiplier_; }
  size_t bytes() const;

  // The code q of row n (output column), depth k, read back from the packed layout (tests).
  int32_t code(int64_t n, int64_t k) const;

  // The packed weights as one image for a PackStore (int4_image.cc): a 64-byte header, the
  // codes, the scales, the zero points. The parts point into this object (header) and its
  // arena memory, so they are valid while it lives.
  std::vector<PackStore::Part> image_parts();
  // Weights that view an image (no copy). invalid_input when it is not one of K x N weights.
  static Result<Int4Weights> from_image(ArenaPtr<uint8_t> image, size_t bytes, int64_t K, int64_t N);

 private:
  int64_t K_ = 0, N_ = 0, blocks_ = 0, groups_ = 0;
  int32_t uniform_zero_ = 8;
  float scale_multiplier_ = 1.0f;
  ArenaPtr<uint8_t> codes_;
  ArenaPtr<uint16_t> scales_;
  ArenaPtr<uint8_t> zeros_;
  std::array<uint8_t, 64> header_{};
};

// How the activations of a call are quantized. Per block of 32 (kBlocks): x ~ q * scale,
// q = round(x / scale) in [-127, 127], scale = max |x| / 127 (times the weights' scale
// multiplier), and the sum of each block's q for the zero-point correction; rows padded with
// zeros to whole blocks. Per row (kRows): uint8 with a zero point and a scale per row, as the
// INT8 GEMM's act=row (runtime/qgemm/quantize_act.h); int4_gemm then requantizes the weights to
// int8 per column, panel by panel, and runs the INT8 GEMM's tile kernels (int4_requant.cc).
// kAuto: per row from kRequantMinRows rows (prefill) where the ISA's table allows it (not AVX2:
// Int4Kernels::requant_prefill), per block otherwise (decode).
enum class Int4ActForm { kAuto, kBlocks, kRows };
// Activation rows from which kAuto quantizes per row (bench_int4_gemm measures where the
// requantized kernel starts to beat the block kernels).
constexpr int64_t kRequantMinRows = 32;

class Int4Activations {
 public:
  void quantize(const float* x, int64_t M, int64_t K, float scale_multiplier, Int4ActForm form = Int4ActForm::kAuto);

  bool per_row() const { return per_row_; }
  int64_t M() const { return M_; }
  // Per block (per_row() false):
  int64_t blocks() const { return blocks_; }
  const int8_t* row(int64_t m) const { return q_.data() + m * blocks_ * kBlock; }
  const float* scales(int64_t m) const { return scales_.data() + m * blocks_; }
  const int32_t* sums(int64_t m) const { return sums_.data() + m * blocks_; }
  // Per row (per_row() true):
  const qgemm::QuantizedRows& rows() const { return rows_; }

 private:
  void quantize_blocks(const float* x, int64_t K, float scale_multiplier);

  bool per_row_ = false;
  int64_t M_ = 0, blocks_ = 0;
  std::vector<int8_t> q_;
  std::vector<float> scales_;
  std::vector<int32_t> sums_;
  qgemm::QuantizedRows rows_;
};

// The kernels int4_gemm may use. The streaming one reads the packed nibbles again for every
// few activation rows: right for a decode step, where the weights stream from memory once. The
// unpacked one widens a panel of them to bytes once per call and sweeps every row over it, as
// the INT8 GEMM does: right for a prefill. Both compute the same integers and floats.
enum class Int4Kernel { kAuto, kStreaming, kUnpacked };
// Activation rows from which kAuto picks the unpacked kernel (bench_int4_gemm measures where
// it starts to pay); with activations quantized by kAuto, below kRequantMinRows.
constexpr int64_t kUnpackedMinRows = 16;

// Activations per block: y[m, n] = sum over blocks of float(dot(q_w - zero, q_x)) * (w scale *
// x scale), accumulated block by block with one FMA each (in this order, so every ISA path and
// both block kernels give the same floats), plus bias[n] when given; `kernel` picks the block
// kernel. Activations per row: the requantized kernel (int4_requant.cc; `kernel` unused), whose
// floats also agree on every ISA path. Multi-threaded over groups of 16 output columns.
void int4_gemm(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy,
               Int4Kernel kernel = Int4Kernel::kAuto);

// The same with the plain scalar loops (tests compare every ISA path with it).
void int4_gemm_reference(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy);

}  // namespace ember::runtime::int4
