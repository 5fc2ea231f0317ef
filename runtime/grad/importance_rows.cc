#include "runtime/grad/importance_rows.h"
#include "ir/nibbles.h"

#include "runtime/cpu.h"

namespace ember::runtime::grad {
namespace {

int32_t low_nibble(uint8_t b) { return nibbles::sign_extend(nibbles::low(b)); }
int32_t high_nibble(uint8_t b) { return nibbles::sign_extend(nibbles::high(b)); }

}  // namespace

RowSums accumulate_row_scalar(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw,
                              float* col_g2w2, int64_t begin) {
  RowSums r;
  const bool columns = col_gw != nullptr;
  const bool per_element = cand && cand->per_element_scales;
  for (int64_t i = begin; i < n; ++i) {
    const double gi = g[i], p = gi * w[i];
    r.gw += p;
    r.g2 += gi * gi;
    r.g2w2 += p * p;
    if (columns) {
      col_gw[i] += static_cast<float>(p);
      col_g2w2[i] += static_cast<float>(p * p);
    }
    if (!cand) continue;
    const float q[kMaxRowCandidates] = {
        static_cast<float>(cand->q8[i]) * cand->s8[per_element ? i : 0],
        static_cast<float>(low_nibble(cand->q4[i])) * cand->s32[per_element ? i : i >> 5],
        static_cast<float>(high_nibble(cand->q4[i])) * cand->s128[per_element ? i : i >> 7]};
    for (int c = 0; c < kMaxRowCandidates; ++c) {
      const double d = gi * static_cast<double>(q[c] - w[i]);
      r.gd[c] += d;
      r.g2d2[c] += d * d;
    }
  }
  return r;
}

RowSums accumulate_row(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw,
                       float* col_g2w2) {
  static const bool avx2 = runtime::isa_level() >= runtime::IsaLevel::kAvx2;
  return avx2 ? accumulate_row_avx2(g, w, cand, n, col_gw, col_g2w2)
              : accumulate_row_scalar(g, w, cand, n, col_gw, col_g2w2);
}

}  // namespace ember::runtime::grad
