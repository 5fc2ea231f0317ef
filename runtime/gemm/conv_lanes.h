// Convolution with the output POSITIONS as the SIMD lanes, for convs whose output channels
// would fill the vector badly as lanes (conv_gemm.h: 11 channels use 11 of 16 AVX-512 lanes).
// The image is zero-padded planes, channel c at image + c * plane; with stride 1 on every axis
// the window of the output at flat index o of the padded grid starts at input o, so for one
// tap and channel the windows of consecutive o are consecutive floats: one vector load feeds
// W outputs. The outputs live on that padded grid (o = window start; positions whose window
// runs past the image edge are junk the caller skips when it compacts them): per output
// channel m,
//   y[m * ldy + o] = act(bias[m] + sum_t sum_c image[c * plane + taps[t] + o] * W[m, t * C + c])
// for o < count (computed, and stored, up to count rounded up to lane_width()). One FMA per
// term, in depth order (tap-major, channel-minor), from zero, the bias added last: the same
// operations per output as conv_gemm's tiles at the same ISA level, so the same floats.
// The output channels sit in registers (a block of up to lane_block() of them per tile), each
// weight a broadcast.
#pragma once
#include <cstdint>
#include <memory>

namespace ember::runtime {

// W [M, K] (row-major, K = taps * channels in (tap, channel) order) packed in blocks of output
// channels: block b is K rows of block-width floats, zero past M. No plain copy is kept: blocks
// laid out for a level above the one in use (lowered since, in tests) are repacked from the blocks.
class PackedLaneWeights {
 public:
  PackedLaneWeights() = default;
  static PackedLaneWeights pack(const float* w, int64_t M, int64_t K);
  int64_t M() const { return M_; }
  int64_t K() const { return K_; }
  bool empty() const { return !blocks_; }

 private:
  int64_t M_ = 0, K_ = 0;
  int isa_level_ = 0;   // the IsaLevel the blocks are laid out for
  int64_t block_ = 0;   // output channels per block
  std::shared_ptr<const float> blocks_;
  friend struct ConvLanesAccess;
};

struct LaneConvArgs {
  const float* image = nullptr;  // padded planes; readable up to the last tap of position round_up(count)
  int64_t plane = 0;             // floats from one channel's plane to the next
  int64_t channels = 0;          // C: K / tap_count
  const int64_t* taps = nullptr;  // per tap: its offset from the window's start, in floats
  int64_t tap_count = 0;
  int64_t count = 0;             // grid positions to compute
  const float* bias = nullptr;   // M floats, or null
  bool relu = false;
  float* y = nullptr;            // M rows of ldy floats, each written up to count rounded up to lane_width()
  int64_t ldy = 0;
  // Several images at once (the same grid each): image i at image + i * image_stride, its
  // rows at y + i * y_stride. Their vectors are tiled as one sequence.
  int64_t images = 1, image_stride = 0, y_stride = 0;
};

// Floats per vector at the active ISA level (1 for the scalar path): the grid is computed in
// whole vectors, so buffers must hold count rounded up to it (image reads past the last
// position's window by up to lane_width() - 1 floats).
int64_t lane_width();

void conv_position_lanes(const LaneConvArgs& args, const PackedLaneWeights& w);

// The cost model choosing the lanes for one image of a conv at load time, in vector FMAs (W:
// the active level's width): channels as lanes fill ceil(maps / W) vectors at each of
// `positions` outputs per depth step; positions as lanes fill ceil(grid / W) vectors for each of
// `maps` channels. The copies between layouts are counted:
// channel lanes transpose X into channel-minor rows when it is planes, and their rows into Y
// when Y is planes; position lanes transpose X into planes when it is channels-last, and the
// grid into Y when Y is. A float moved by such a copy costs about two vector FMAs (one scalar
// load and store against two FMAs a cycle; on digits-cnn the 832-float copy took 14% of the
// time where the 6435 FMAs took 48%). Copies of whole lines (padding, planes) are not counted.
// A channel tile of a single vector is load-bound: its FMAs count 5/4.
// Images over kMaxLaneImageFloats stay on channel lanes: the grid sweep re-reads the whole
// image once per block of output channels.
struct LaneShape {
  int64_t groups = 1, maps = 0, depth = 0;  // maps per group; depth = taps * channels per group
  int64_t positions = 0, grid = 0;          // conv outputs; the grid to compute (LaneGrid::count)
  int64_t x_floats = 0, y_floats = 0;       // one image of X and of Y (after the pool, if any)
  bool x_channels_last = false, y_channels_last = false;
};
constexpr int64_t kMaxLaneImageFloats = int64_t{1} << 17;
struct LaneCosts {
  int64_t channels = 0, positions = 0;  // in vector FMAs
};
LaneCosts lane_costs(const LaneShape& s);  // needs a SIMD level (lane_width() > 1)
bool choose_position_lanes(const LaneShape& s);

}  // namespace ember::runtime
