// AVX2 u8s8 kernels without VNNI: VPDPBUSD emulated exactly. vpmaddubsw adds two u8 x s8
// products into an int16 that saturates (2 * 255 * 128 > 32767), so each activation byte is
// split as a = lo + 128 hi with lo = a & 127: pairs of lo x b stay within +-32512 and hi x b
// within +-256; vpmaddwd widens both to int32 (hi with a weight of 128). A 3 x 16 register tile.
// Only reached through kAvx2Kernels after dispatch.
#include <immintrin.h>

#include "runtime/qgemm/qgemm_ymm.h"

namespace ember::runtime::qgemm {
namespace {

struct Avx2Madd : YmmCommon {
  static IReg dpbusd(IReg acc, IReg a, IReg b) {
    const IReg lo = _mm256_and_si256(a, _mm256_set1_epi8(0x7f));
    const IReg hi = _mm256_and_si256(_mm256_srli_epi16(a, 7), _mm256_set1_epi8(1));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, b), _mm256_set1_epi16(1)));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, b), _mm256_set1_epi16(128)));
  }
};

// Weights without -128: with a' = a - 128 (int8), a' * b = |a'| * sign(b, a') exactly, and a
// pair of those stays within int16 because |b| <= 127, so one vpmaddubsw covers four bytes.
// The driver accounts for the shift of A in the zero-point correction.
struct Avx2SignedMadd : YmmCommon {
  static IReg dpbusd(IReg acc, IReg a, IReg b) {
    const IReg shifted = _mm256_xor_si256(a, _mm256_set1_epi8(static_cast<char>(0x80)));
    const IReg product = _mm256_maddubs_epi16(_mm256_abs_epi8(shifted), _mm256_sign_epi8(b, shifted));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(product, _mm256_set1_epi16(1)));
  }
};

constexpr int kMr = 3, kNv = 2;  // 6 accumulators: the emulation needs the other YMM registers

}  // namespace

constinit const Kernels kAvx2Kernels = {
    .mr = kMr,
    .nr = kNv * Avx2Madd::kWidth,
    .tile = &tile_dispatch<Avx2Madd, kMr, kNv>,
    .tile_shifted_a = &tile_dispatch<Avx2SignedMadd, kMr, kNv>,
};

}  // namespace ember::runtime::qgemm
