#include "runtime/kernels/conv_packed.h"

#include <algorithm>

namespace ember::runtime {
namespace {

// Floats of patches gathered per GEMM: images are batched until their rows reach this.
constexpr int64_t kPatchBudget = int64_t{4} << 20;

// offsets[p * taps + t]: the input offset (within one channel's plane) that output position p
// reads at kernel tap t, or -1 where the tap falls into the padding.
void tap_offsets(const WindowGeometry& g, int64_t* offsets) {
  const size_t rank = static_cast<size_t>(g.rank());
  std::vector<int64_t> o(rank, 0), k(rank, 0);
  const int64_t positions = g.out_size(), taps = g.kernel_size();
  for (int64_t p = 0; p < positions; ++p) {
    std::fill(k.begin(), k.end(), 0);
    for (int64_t t = 0; t < taps; ++t) {
      int64_t offset = 0;
      for (size_t a = 0; a < rank && offset >= 0; ++a) {
        const int64_t i = o[a] * g.stride[a] - g.pad_begin[a] + k[a] * g.dilation[a];
        offset = (i < 0 || i >= g.in[a]) ? -1 : offset * g.in[a] + i;
      }
      *offsets++ = offset;
      for (size_t a = rank; a-- > 0;) {  // odometer over the kernel's taps
        if (++k[a] < g.kernel[a]) break;
        k[a] = 0;
      }
    }
    for (size_t a = rank; a-- > 0;) {  // odometer over output positions
      if (++o[a] < g.out[a]) break;
      o[a] = 0;
    }
  }
}

// rows[p * channels * taps + c * taps + t] = x[c, offsets[p * taps + t]] (0 in the padding):
// the transpose of im2col, one row per output position in W's (channel, tap) order.
void im2row(const float* x, int64_t channels, int64_t in_plane, int64_t positions, int64_t taps,
            const int64_t* offsets, float* rows) {
  for (int64_t p = 0; p < positions; ++p) {
    const int64_t* off = offsets + p * taps;
    for (int64_t c = 0; c < channels; ++c) {
      const float* xc = x + c * in_plane;
      for (int64_t t = 0; t < taps; ++t) *rows++ = off[t] >= 0 ? xc[off[t]] : 0.0f;
    }
  }
}

// y[m * positions + p] = product[p * maps + m]: one image's [P, M/g] block into its planes.
void rows_to_planes(const float* product, int64_t positions, int64_t maps, float* y) {
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t m = 0; m < maps; ++m) y[m * positions + p] = product[p * maps + m];
}

}  // namespace

void PackedConv::pack(const Tensor& w, int64_t group) {
  group_ = group;
  maps_ = w.dim(0);
  rows_ = w.numel() / std::max<int64_t>(maps_, 1);
  w_shape_ = w.shape();
  const int64_t mg = maps_ / group;
  panels_.clear();
  for (int64_t grp = 0; grp < group; ++grp)
    panels_.push_back(PackedMatrixB::pack(true, rows_, mg, w.data<float>() + grp * mg * rows_, rows_));
}

bool PackedConv::applies(const Tensor& w, const WindowGeometry& g) const {
  return packed() && w.shape() == w_shape_ && g.out_size() * rows_ <= kPatchBudget;
}

void PackedConv::run(const float* x, int64_t batch, int64_t channels, const float* bias, const WindowGeometry& g,
                     TensorAllocator& allocator, float* y) const {
  const int64_t cg = channels / group_, mg = maps_ / group_, taps = g.kernel_size();
  const int64_t positions = g.out_size(), in_plane = g.in_size();
  const int64_t images = std::clamp<int64_t>(kPatchBudget / std::max<int64_t>(positions * rows_, 1), 1, batch);
  Tensor offsets = allocator.allocate(DType::kI64, {positions * taps});
  Tensor patches = allocator.allocate(DType::kF32, {images * positions * rows_});
  Tensor product = allocator.allocate(DType::kF32, {images * positions * mg});
  tap_offsets(g, offsets.mutable_data<int64_t>());
  float* rows = patches.mutable_data<float>();
  float* out = product.mutable_data<float>();
  for (int64_t grp = 0; grp < group_; ++grp)
    for (int64_t n0 = 0; n0 < batch; n0 += images) {
      const int64_t count = std::min(images, batch - n0);
      for (int64_t i = 0; i < count; ++i)
        im2row(x + ((n0 + i) * channels + grp * cg) * in_plane, cg, in_plane, positions, taps,
               offsets.data<int64_t>(), rows + i * positions * rows_);
      sgemm_packed(count * positions, rows, rows_, panels_[static_cast<size_t>(grp)], bias ? bias + grp * mg : nullptr,
                   out, mg);
      for (int64_t i = 0; i < count; ++i)
        rows_to_planes(out + i * positions * mg, positions, mg, y + ((n0 + i) * maps_ + grp * mg) * positions);
    }
}

}  // namespace ember::runtime
