// clip_tile.h: the AVX-512 tile's clipping search (its shortcuts: division-free scales, lower
// bounds, skipped clamps, the early end of the grid) chooses exactly the scale of the reference
// search, choose_params, for every group: random blocks, and adversarial ones (all equal, zeros,
// one outlier, denormals, values on rounding ties, heavy tails, heavy tails at one end only, values whose squares overflow),
// lanes of different kinds side by side in one tile, INT4 and INT8, blocks 32, 64 and 128 and a
// short last block, both stored layouts. The division-free arithmetic is checked against the
// division on every significand of many exponents.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "passes/analysis/layer_model.h"
#include "passes/quantize/clip_search.h"
#include "passes/quantize/quant_math.h"
#include "passes/quantize/rtn_stored.h"
#include "passes/quantize/rtn_tile.h"
#include "tests/unit/passes/quantize_test_util.h"
#include "tests/unit/test_support.h"

namespace ember {
namespace {

using passes::analysis::Layer;
using passes::quant::ClipMode;
using passes::quant::QuantFormat;
using qw_test::layer_of;

constexpr int kKinds = 16, kOverflow = 9;

// Value i of a group of kind `kind` (n values; rng for the random kinds).
float adversarial_value(int kind, int64_t i, int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::student_t_distribution<float> heavy(2.0f);
  switch (kind) {
    case 0: return uniform(rng);
    case 1: return 0.02f * normal(rng);
    case 2: return 0.3f;                                  // all equal, positive
    case 3: return -1.7f;                                 // all equal, negative
    case 4: return 0.0f;                                  // zeros
    case 5: return i == n / 2 ? 40.0f : normal(rng);      // one outlier
    case 6: return 1e-40f * float(int(i % 7) - 3);        // denormals
    case 7: return float(int(i % 29) - 14) / 14.0f;       // codes on rounding ties at c = 1
    case 8: return heavy(rng);                            // heavy tails
    case kOverflow: return 3e19f * uniform(rng);          // squares past the float range
    case 10: return i == 0 ? 1.0f : (i == 1 ? -1.0f : 0.0f);  // two values
    case 11: return 0.125f * float(int(i % 16) - 8);      // exactly representable codes
    case 12: return 1e-33f * normal(rng);                 // scales of 1 for some clips
    case 13: return -std::fabs(heavy(rng));  // a heavy tail at the negative end only
    case 14: return std::fabs(heavy(rng));   // and at the positive end
    default: return i % 3 == 0 ? -2.0f * std::fabs(normal(rng)) : 0.01f * normal(rng);  // negative side wider
  }
}

// Fills every (channel, group) with a kind that changes from lane to lane and group to group.
// A tile (16 channels) with squares past the float range anywhere takes the exact slow steps
// for all its lanes, so those values go only in every third tile's first lane.
Tensor adversarial_weight(const Layer& t, int64_t block, uint32_t seed) {
  Tensor w = Tensor::zeros(DType::kF32, t.shape);
  float* p = w.mutable_data<float>();
  std::mt19937 rng(seed);
  for (int64_t r = 0; r < t.channels; ++r)
    for (int64_t c0 = 0; c0 < t.reduction; c0 += block) {
      int kind = int((r * 5 + c0 / block * 3 + seed) % kKinds);
      if (kind == kOverflow) kind = (r / 16) % 3 == 2 && r % 16 == 0 ? kOverflow : 0;
      const int64_t n = std::min(block, t.reduction - c0);
      for (int64_t i = 0; i < n; ++i) p[t.index(r, c0 + i)] = adversarial_value(kind, i, n, rng);
    }
  return w;
}

// Every group's scale from the stored path (the tile on AVX-512) against choose_params on the
// same group in reduction order, bit for bit; and the codes through the canonical path.
void check_choices(const Layer& t, const Tensor& w, int64_t block, QuantFormat f) {
  const auto got = passes::quant::quantize_rtn_stored(t, w, block, f, ClipMode::kMse);
  const std::vector<float> canon = passes::analysis::canonical_matrix(t, w);
  const int64_t groups = (t.reduction + block - 1) / block;
  const float* scales = got.tensors.scales.data<float>();
  int64_t mismatches = 0;
  for (int64_t r = 0; r < t.channels; ++r)
    for (int64_t j = 0; j < groups; ++j) {
      const int64_t c0 = j * block, n = std::min(block, t.reduction - c0);
      const auto want = passes::quant::choose_params(canon.data() + r * t.reduction + c0, n, 1, nullptr, f, ClipMode::kMse);
      // Blocked scales are [G, C] for weights stored [K, C] and [C, G] for [C, K].
      const float have = t.column_major() ? scales[j * t.channels + r] : scales[r * groups + j];
      uint32_t a, b;
      std::memcpy(&a, &have, 4);
      std::memcpy(&b, &want.scale, 4);
      if (a != b) ++mismatches;
    }
  CHECK(mismatches == 0);
  const auto q = passes::quant::quantize_rtn(canon.data(), t.channels, t.reduction, block, f, ClipMode::kMse);
  CHECK(got.tensors.codes.same_content(passes::quant::qdq_tensors(t, q).codes));
}

TEST_CASE("clip_tile: the tile's clipping search chooses the reference's scale on random and adversarial blocks") {
  for (runtime::IsaLevel level : test::testable_levels()) {
    test::IsaScope isa(level);
    for (int threads : {1, 2}) {
      test::ThreadsScope scope(threads);
      uint32_t seed = 11;
      for (QuantFormat f : {QuantFormat{4, true}, QuantFormat{8, true}})
        for (int64_t block : {int64_t(32), int64_t(64), int64_t(128)})
          for (bool channels_last : {true, false})
            for (int64_t reduction : {block * 3, block * 2 + 18}) {
              const Layer t = layer_of("w", 48, reduction, channels_last);
              INFO("isa " << int(level) << " threads " << threads << " bits " << f.bits << " block " << block << " K "
                          << reduction << " channels last " << channels_last);
              check_choices(t, adversarial_weight(t, block, seed++), block, f);
            }
    }
  }
}

TEST_CASE("clip_tile: many random tiles of one kind per lane, every kind in every lane position") {
  if (!passes::quant::clip_search_vectorized()) EMBER_SKIP("this CPU has no AVX-512: the tile is not used");
  for (uint32_t seed = 0; seed < 12; ++seed) {
    const Layer t = layer_of("w", 16 * kKinds, 32 * 8, true);
    INFO("seed " << seed);
    check_choices(t, adversarial_weight(t, 32, seed), 32, QuantFormat{4, true});
  }
}

TEST_CASE("clip_tile: division-free scales and reciprocals equal the divisions on every significand") {
  if (!passes::quant::clip_search_vectorized()) EMBER_SKIP("this CPU has no AVX-512: the tile is not used");
  // A finite tile's scales lie between 1e-30 / 127 (2^-107) and FLT_MAX / 7 (below 2^126).
  for (int exponent : {-107, -99, -60, -20, -3, -1, 0, 1, 2, 7, 30, 90, 125})
    for (int qmax : {7, 127}) {
      INFO("exponent " << exponent << " qmax " << qmax);
      CHECK(passes::quant::clip_division_mismatches(exponent, qmax) == 0);
    }
}

}  // namespace
}  // namespace ember
