#include "runtime/kernels/conv_packed.h"

#include <algorithm>

#include "runtime/kernels/conv_layout.h"

namespace ember::runtime {
namespace {

// Floats of one image's patches above which the chunked im2col path is kept (16 MB).
constexpr int64_t kPatchBudget = int64_t{4} << 20;
// Floats of patches gathered per GEMM: images are batched up to this (256 KB), so the patches
// are still in L2 when the GEMM reads them back.
constexpr int64_t kSliceFloats = int64_t{1} << 16;

// rows[p * taps * channels + t * channels + c] = x[offsets[p * taps + t], c]: one row per
// output position, in the (tap, channel) order the weights were packed in. `run` consecutive
// taps (the kernel's last axis when its dilation is 1) read consecutive input positions, so
// each copies run * channels floats at once.
void im2row(const float* x, int64_t channels, int64_t positions, int64_t taps, int64_t run, const int64_t* offsets,
            float* rows) {
  const int64_t length = run * channels;
  for (int64_t p = 0; p < positions; ++p) {
    const int64_t* off = offsets + p * taps;
    for (int64_t t = 0; t < taps; t += run) {
      const float* src = x + off[t] * channels;
#pragma omp simd
      for (int64_t i = 0; i < length; ++i) rows[i] = src[i];
      rows += length;
    }
  }
}

}  // namespace

void PackedConv::pack(const Tensor& w, int64_t group) {
  group_ = group;
  maps_ = w.dim(0);
  rows_ = w.numel() / std::max<int64_t>(maps_, 1);
  w_shape_ = w.shape();
  const int64_t mg = maps_ / group, cg = w.dim(1), taps = rows_ / std::max<int64_t>(cg, 1);
  // W_g [M/g, C/g, taps] reordered to [M/g, taps, C/g], the order of im2row's rows.
  std::vector<float> reordered(static_cast<size_t>(mg * rows_));
  panels_.clear();
  for (int64_t grp = 0; grp < group; ++grp) {
    const float* wg = w.data<float>() + grp * mg * rows_;
    for (int64_t m = 0; m < mg; ++m)
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t t = 0; t < taps; ++t)
          reordered[static_cast<size_t>(m * rows_ + t * cg + c)] = wg[m * rows_ + c * taps + t];
    panels_.push_back(PackedMatrixB::pack(true, rows_, mg, reordered.data(), rows_));
  }
}

bool PackedConv::applies(const Tensor& w, const WindowGeometry& g) const {
  if (!packed() || w.shape() != w_shape_ || g.out_size() * rows_ > kPatchBudget) return false;
  for (size_t a = 0; a < g.in.size(); ++a)  // negative pads (crops) stay on the im2col path
    if (g.pad_begin[a] < 0 || g.pad_end[a] < 0) return false;
  return true;
}

void PackedConv::run(const float* x, int64_t batch, int64_t channels, const float* bias, const WindowGeometry& g,
                     TensorAllocator& allocator, float* y) const {
  const int64_t cg = channels / group_, mg = maps_ / group_, taps = g.kernel_size();
  const int64_t positions = g.out_size(), in_plane = g.in_size();
  const int64_t images = std::clamp<int64_t>(kSliceFloats / std::max<int64_t>(positions * rows_, 1), 1, batch);
  const WindowGeometry padded = padded_input(g);
  const int64_t side_by_side = g.dilation.back() == 1 ? g.kernel.back() : 1;  // taps of one run
  Tensor offsets = allocator.allocate(DType::kI64, {positions * taps});
  Tensor patches = allocator.allocate(DType::kF32, {images * positions * rows_});
  Tensor product = allocator.allocate(DType::kF32, {images * positions * mg});
  Tensor staging = allocator.allocate(DType::kF32, {padded.in_size() * cg});
  tap_offsets(padded, offsets.mutable_data<int64_t>());
  float* image = staging.mutable_data<float>();
  std::fill_n(image, staging.numel(), 0.0f);
  float* rows = patches.mutable_data<float>();
  float* out = product.mutable_data<float>();
  for (int64_t grp = 0; grp < group_; ++grp)
    for (int64_t n0 = 0; n0 < batch; n0 += images) {
      const int64_t count = std::min(images, batch - n0);
      for (int64_t i = 0; i < count; ++i) {
        copy_planes_to_channels_last(x + ((n0 + i) * channels + grp * cg) * in_plane, cg, g, padded, image);
        im2row(image, cg, positions, taps, side_by_side, offsets.data<int64_t>(), rows + i * positions * rows_);
      }
      sgemm_packed(count * positions, rows, rows_, panels_[static_cast<size_t>(grp)], bias ? bias + grp * mg : nullptr,
                   out, mg);
      for (int64_t i = 0; i < count; ++i)
        rows_to_planes(out + i * positions * mg, positions, mg, mg, y + ((n0 + i) * maps_ + grp * mg) * positions);
    }
}

}  // namespace ember::runtime
