// The position-lane conv driver: ISA dispatch, weight blocks, the sweep of each block over
// the grid, and the cost model. The scalar tile here is the portable reference the SIMD ones
// (conv_lanes_microkernel.h) are tested against.
#include "runtime/gemm/conv_lanes.h"

#include <algorithm>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/gemm/conv_lanes_kernels.h"
#include "runtime/gemm/sgemm_kernels.h"

namespace ember::runtime {
namespace gemm {
namespace {

constexpr int kScalarVectors = 4, kScalarChannels = 8;

// Width 1: "vectors" are single positions.
void scalar_lane_tile(const LaneTileArgs& t) {
  float acc[kScalarVectors][kScalarChannels] = {};
  const float* b = t.b;
  for (int64_t tap = 0; tap < t.tap_count; ++tap) {
    for (int64_t c = 0; c < t.channels; ++c, b += t.b_stride)
      for (int v = 0; v < t.v; ++v) {
        const float a = t.images[v][t.taps[tap] + c * t.plane];
        for (int m = 0; m < t.m; ++m) acc[v][m] += a * b[m];
      }
  }
  for (int m = 0; m < t.m; ++m)
    for (int v = 0; v < t.v; ++v) {
      float r = acc[v][m] + (t.bias ? t.bias[m] : 0.0f);
      if (t.relu) r = r < 0 ? 0.0f : r;
      t.ys[v][m * t.ldy] = r;
    }
}

constexpr ConvLaneKernels kConvLanesScalarKernels = {kScalarVectors, kScalarChannels, 1, &scalar_lane_tile};

const ConvLaneKernels& lane_kernels_for(IsaLevel level) {
  return kernels_at(level, kConvLanesAvx512Kernels, kConvLanesAvx2Kernels, kConvLanesScalarKernels);
}

}  // namespace
}  // namespace gemm

struct ConvLanesAccess {
  // Where W[m, k] sits in blocks of `block` output channels.
  static int64_t block_index(int64_t m, int64_t k, int64_t K, int64_t block) { return (m / block * K + k) * block + m % block; }

  // Blocks as even as the tile allows: 13 channels at 12 per tile are 7 + 6, not 12 + 1.
  static void pack_blocks(PackedLaneWeights& w, const float* plain, IsaLevel level) {
    const int64_t most = gemm::lane_kernels_for(level).max_channels;
    const int64_t blocks = (w.M_ + most - 1) / most;
    w.block_ = (w.M_ + blocks - 1) / blocks;
    std::shared_ptr<float> data(new float[static_cast<size_t>(blocks * w.K_ * w.block_)](), std::default_delete<float[]>());
    for (int64_t m = 0; m < w.M_; ++m)
      for (int64_t k = 0; k < w.K_; ++k) data.get()[block_index(m, k, w.K_, w.block_)] = plain[m * w.K_ + k];
    w.blocks_ = std::move(data);
    w.isa_level_ = static_cast<int>(gemm::kernel_level(level));
  }

  // `w` laid out for the level in use, from its own blocks.
  static PackedLaneWeights repack(const PackedLaneWeights& w) {
    std::vector<float> plain(static_cast<size_t>(w.M_ * w.K_));
    for (int64_t m = 0; m < w.M_; ++m)
      for (int64_t k = 0; k < w.K_; ++k) plain[size_t(m * w.K_ + k)] = w.blocks_.get()[block_index(m, k, w.K_, w.block_)];
    PackedLaneWeights out;
    out.M_ = w.M_, out.K_ = w.K_;
    pack_blocks(out, plain.data(), isa_level());
    return out;
  }

  static void run(const LaneConvArgs& a, const PackedLaneWeights& w) {
    if (a.count <= 0 || w.M() <= 0) return;
    const PackedLaneWeights* packed = &w;
    PackedLaneWeights repacked;  // blocks laid out for another level (lowered since, in tests)
    if (w.isa_level_ != static_cast<int>(gemm::kernel_level(isa_level()))) {
      repacked = repack(w);
      packed = &repacked;
    }
    const gemm::ConvLaneKernels& kern = gemm::lane_kernels_for(static_cast<IsaLevel>(packed->isa_level_));
    gemm::LaneTileArgs t;
    t.plane = a.plane;
    t.channels = a.channels;
    t.taps = a.taps;
    t.tap_count = a.tap_count;
    t.b_stride = packed->block_;
    t.relu = a.relu;
    t.ldy = a.ldy;
    // The vectors of all the images one after the other, so only the last tile is partial.
    const int64_t per_image = (a.count + kern.width - 1) / kern.width, vectors = per_image * a.images;
    // Block by block (its K x block floats stay in L1) over the whole grid.
    for (int64_t m0 = 0; m0 < w.M(); m0 += packed->block_) {
      t.b = packed->blocks_.get() + m0 * w.K();
      t.m = static_cast<int>(std::min(packed->block_, w.M() - m0));
      t.bias = a.bias ? a.bias + m0 : nullptr;
      for (int64_t v0 = 0; v0 < vectors; v0 += kern.max_vectors) {
        t.v = static_cast<int>(std::min<int64_t>(kern.max_vectors, vectors - v0));
        for (int v = 0; v < t.v; ++v) {
          const int64_t image = (v0 + v) / per_image, at = (v0 + v) % per_image * kern.width;
          t.images[v] = a.image + image * a.image_stride + at;
          t.ys[v] = a.y + image * a.y_stride + m0 * a.ldy + at;
        }
        kern.tile(t);
      }
    }
  }
};

PackedLaneWeights PackedLaneWeights::pack(const float* w, int64_t M, int64_t K) {
  PackedLaneWeights p;
  p.M_ = M;
  p.K_ = K;
  if (M > 0 && K > 0) ConvLanesAccess::pack_blocks(p, w, isa_level());
  return p;
}

int64_t lane_width() { return gemm::lane_kernels_for(isa_level()).width; }

void conv_position_lanes(const LaneConvArgs& a, const PackedLaneWeights& w) { ConvLanesAccess::run(a, w); }

LaneCosts lane_costs(const LaneShape& s) {
  const int64_t width = lane_width();
  constexpr int64_t kCopy = 2;  // vector FMAs per float of a transposing copy
  const int64_t vectors = (s.maps + width - 1) / width;
  // A channel tile of one vector is bound by its loads (mr broadcasts and one weight vector per
  // mr FMAs): counted as 5/4 of its FMAs (digits-cnn's c2, 11 channels: 1.27x per FMA against
  // the position tiles).
  const int64_t channel_fmas = s.groups * s.positions * vectors * s.depth;
  LaneCosts c;
  c.channels = (vectors == 1 ? channel_fmas * 5 / 4 : channel_fmas) +
               kCopy * ((s.x_channels_last ? 0 : s.x_floats) + (s.y_channels_last ? 0 : s.y_floats));
  c.positions = s.groups * s.maps * ((s.grid + width - 1) / width) * s.depth +
                kCopy * ((s.x_channels_last ? s.x_floats : 0) + (s.y_channels_last ? s.y_floats : 0));
  return c;
}

bool choose_position_lanes(const LaneShape& s) {
  if (lane_width() <= 1 || s.x_floats > kMaxLaneImageFloats) return false;
  const LaneCosts c = lane_costs(s);
  return c.positions < c.channels;
}

}  // namespace ember::runtime
