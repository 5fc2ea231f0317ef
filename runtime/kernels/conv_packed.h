// Float Conv with the weights packed once at load (prepare), for the hot path of CNNs.
// Per group g, W_g [M/g, R] (R = C/g * kernel size, reordered to (tap, channel)) is packed as
// the right operand of sgemm_packed (B = W_g^T), and every image, copied channel-minor into a
// zero-padded buffer, contributes its patches as rows (im2row, [P, R] for P output positions:
// one run of C/g consecutive floats per tap), so a slice of the batch is one GEMM with the bias
// in its epilogue:
//   Yt[n * P + p, m] = sum_r rows[n * P + p, r] * W_g[m, r] + B[g * M/g + m]
// and Yt is transposed into Y's [M/g, P] planes. Nothing is packed or allocated per image:
// the per-image im2col + sgemm (which packs W on every call) cost a fixed share per image that
// did not shrink with the channels. Same products as that path, summed in another order
// (float reassociation only).
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/gemm/sgemm.h"
#include "runtime/kernel.h"
#include "runtime/kernels/window_geometry.h"

namespace ember::runtime {

class PackedConv {
 public:
  // w: the constant f32 weights [M, C/group, kernel...]; M divisible by group.
  void pack(const Tensor& w, int64_t group);
  bool packed() const { return !panels_.empty(); }
  // Whether run() takes this call: the run-time W has the packed shape, and one image's
  // patches fit the column budget (larger images keep the chunked im2col path), and no pad
  // is negative.
  bool applies(const Tensor& w, const WindowGeometry& g) const;
  // x [N, C, in...] and y [N, M, out...] contiguous; bias [M] or nullptr.
  void run(const float* x, int64_t batch, int64_t channels, const float* bias, const WindowGeometry& g,
           TensorAllocator& allocator, float* y) const;

 private:
  int64_t group_ = 1, maps_ = 0, rows_ = 0;
  Shape w_shape_;
  std::vector<PackedMatrixB> panels_;  // one per group: B = W_g^T, K = rows_, N = maps_ / group_
};

}  // namespace ember::runtime
