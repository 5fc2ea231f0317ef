// Int4Weights to and from a PackStore image: a header of the shape and constants, then the
// packed arrays as they lie in memory, so that loading an image is a view, not a copy.
#include <cstring>

#include "runtime/int4/int4_format.h"

namespace ember::runtime::int4 {
namespace {

struct ImageHeader {
  char magic[8];  // "EMBINT4\\0" (with the layout constants below, the format version)
  int64_t K, N, blocks, groups;
  int32_t uniform_zero;
  float scale_multiplier;
  int32_t has_zeros, block, group_rows, block_bytes;
};
static_assert(sizeof(ImageHeader) <= 64);
constexpr char kMagic[8] = {'E', 'M', 'B', 'I', 'N', 'T', '4', '\0'};

}  // namespace

std::vector<PackStore::Part> Int4Weights::image_parts() {
  ImageHeader h{};
  std::memcpy(h.magic, kMagic, 8);
  h.K = K_, h.N = N_, h.blocks = blocks_, h.groups = groups_;
  h.uniform_zero = uniform_zero_;
  h.scale_multiplier = scale_multiplier_;
  h.has_zeros = zeros_ ? 1 : 0;
  h.block = kBlock, h.group_rows = kGroupRows, h.block_bytes = kBlockBytes;
  header_.fill(0);
  std::memcpy(header_.data(), &h, sizeof h);
  const size_t cells = static_cast<size_t>(groups_ * blocks_);
  std::vector<PackStore::Part> parts = {{header_.data(), header_.size()},
                                        {codes_.get(), cells * kBlockBytes},
                                        {scales_.get(), cells * kGroupRows * sizeof(uint16_t)}};
  if (zeros_) parts.push_back({zeros_.get(), cells * kGroupRows});
  return parts;
}

Result<Int4Weights> Int4Weights::from_image(ArenaPtr<uint8_t> image, size_t bytes, int64_t K, int64_t N) {
  ImageHeader h{};
  if (bytes < 64) return invalid_input("int4 image too short");
  std::memcpy(&h, image.get(), sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.block != kBlock || h.group_rows != kGroupRows || h.block_bytes != kBlockBytes)
    return invalid_input("not an int4 image of this version");
  if (h.K != K || h.N != N || h.blocks != (K + kBlock - 1) / kBlock || h.groups != (N + kGroupRows - 1) / kGroupRows)
    return invalid_input("the int4 image is for other dimensions");
  const size_t cells = static_cast<size_t>(h.groups * h.blocks);
  const size_t codes = cells * kBlockBytes, scales = cells * kGroupRows * sizeof(uint16_t);
  if (bytes != 64 + codes + scales + (h.has_zeros ? cells * kGroupRows : 0)) return invalid_input("int4 image of the wrong size");
  Int4Weights w;
  w.K_ = h.K, w.N_ = h.N, w.blocks_ = h.blocks, w.groups_ = h.groups;
  w.uniform_zero_ = h.uniform_zero;
  w.scale_multiplier_ = h.scale_multiplier;
  uint8_t* base = image.get();
  w.codes_ = ArenaPtr<uint8_t>(image, base + 64);
  w.scales_ = ArenaPtr<uint16_t>(image, reinterpret_cast<uint16_t*>(base + 64 + codes));
  if (h.has_zeros) w.zeros_ = ArenaPtr<uint8_t>(image, base + 64 + codes + scales);
  return w;
}

}  // namespace ember::runtime::int4
