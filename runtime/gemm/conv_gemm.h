// Convolution as an implicit GEMM over a channels-last image: the output channels of a group
// are the columns, the output positions the rows, and the depth runs over (tap, channel). The
// left operand is never materialised: each row's values are read straight from the image,
// where one window's taps along the kernel's last axis (dilation 1) and all their channels are
// one contiguous run. So neither an im2row copy nor a packed copy of it is made; only the
// weights are packed, once, in panels of the active ISA level's tile width:
//   y[p * ldc + n] = act(bias[n] + sum_r sum_j image[positions[p] + runs[r] + j] * W[n, r * run_length + j])
// for p < count, n < W.N(), act = identity or ReLU (x < 0 ? 0 : x). One FMA per term, in depth
// order, the bias added last: sgemm's sums for depths up to its k block (192 at AVX-512).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace ember::runtime {

// W [N, K] (row-major, K in the order the runs read) packed for the conv tiles.
class PackedConvWeights {
 public:
  PackedConvWeights() = default;
  static PackedConvWeights pack(const float* w, int64_t N, int64_t K);
  int64_t N() const { return N_; }
  int64_t K() const { return K_; }
  bool empty() const { return plain_.empty(); }
  const float* plain() const { return plain_.data(); }  // W as given to pack

 private:
  int64_t N_ = 0, K_ = 0;
  int isa_level_ = 0;                  // the IsaLevel (runtime/cpu.h) the panels are laid out for
  std::vector<float> plain_;           // W as given: repacked from when the level was lowered since
  std::shared_ptr<const float> panels_;  // ceil(N / nr) panels of K rows of nr floats, zero-padded
  friend struct ConvGemmAccess;
};

struct ConvGemmArgs {
  const float* image = nullptr;
  const int64_t* positions = nullptr;  // per output position: the float where its window starts
  int64_t count = 0;                   // output positions
  const int64_t* runs = nullptr;       // per run: its offset from a window's start, in floats
  int64_t run_count = 0, run_length = 0;  // run_count * run_length == W.K()
  const float* bias = nullptr;         // N floats, or null
  bool relu = false;
  float* y = nullptr;
  int64_t ldc = 0;                     // floats from one output position's row to the next
};

void conv_gemm(const ConvGemmArgs& args, const PackedConvWeights& w);

// The max over the runs of a channels-last MaxPool window (count >= 1):
//   out[c] = max over t of x[offsets[t] + c], c < channels,
// compared as MaxPool does, from the first run on: best = v > best ? v : best (NaN kept when first).
void max_of_runs(const float* x, const int64_t* offsets, int64_t count, int64_t channels, float* out);

}  // namespace ember::runtime
