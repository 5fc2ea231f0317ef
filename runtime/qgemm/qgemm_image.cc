// PackedB to and from a PackStore image: a header of the shape, then the packed arrays as they
// lie in memory, so that loading an image is a view, not a copy.
#include <cstring>

#include "runtime/qgemm/qgemm.h"

namespace ember::runtime::qgemm {
namespace {

struct ImageHeader {
  char magic[8];  // "EMBINT8\0" (with the layout constants below, the format version)
  int64_t K, N, k_quads;
  int32_t has_int8_min, has_zero_points, panel_width, quad;
};
static_assert(sizeof(ImageHeader) <= 64);
constexpr char kMagic[8] = {'E', 'M', 'B', 'I', 'N', 'T', '8', '\0'};

int64_t padded_columns(int64_t N) { return round_up(N, kPanelWidth); }

}  // namespace

std::vector<PackStore::Part> PackedB::image_parts() {
  if (!header_) {
    ImageHeader h{};
    std::memcpy(h.magic, kMagic, 8);
    h.K = K_, h.N = N_, h.k_quads = k_quads_;
    h.has_int8_min = has_int8_min_ ? 1 : 0;
    h.has_zero_points = zero_points_ ? 1 : 0;
    h.panel_width = kPanelWidth, h.quad = kQuad;
    header_ = weight_arena().allocate(64);
    std::memcpy(header_.get(), &h, sizeof h);
  }
  const size_t padded = size_t(padded_columns(N_));
  const size_t panels = padded / kPanelWidth * size_t(panel_bytes());
  std::vector<PackStore::Part> parts = {{header_.get(), 64}, {panels_.get(), panels}, {col_sums_.get(), padded * sizeof(int32_t)}};
  if (zero_points_) parts.push_back({zero_points_.get(), padded * sizeof(int32_t)});
  return parts;
}

Result<PackedB> PackedB::from_image(ArenaPtr<uint8_t> image, size_t bytes, int64_t K, int64_t N) {
  ImageHeader h{};
  if (bytes < 64) return invalid_input("int8 image too short");
  std::memcpy(&h, image.get(), sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.panel_width != kPanelWidth || h.quad != kQuad)
    return invalid_input("not an int8 image of this version");
  if (h.K != K || h.N != N || h.k_quads != (K + kQuad - 1) / kQuad) return invalid_input("the int8 image is for other dimensions");
  PackedB p;
  p.K_ = K, p.N_ = N, p.k_quads_ = h.k_quads;
  p.has_int8_min_ = h.has_int8_min != 0;
  const size_t padded = size_t(padded_columns(N));
  const size_t panels = padded / kPanelWidth * size_t(p.panel_bytes()), sums = padded * sizeof(int32_t);
  if (bytes != 64 + panels + sums + (h.has_zero_points ? sums : 0)) return invalid_input("int8 image of the wrong size");
  uint8_t* base = image.get();
  // Panels are 64-byte aligned (the image entry is, and the header is 64 bytes); the int32
  // arrays follow whole panels of 64 bytes each.
  p.panels_ = ArenaPtr<int8_t>(image, reinterpret_cast<int8_t*>(base + 64));
  p.col_sums_ = ArenaPtr<int32_t>(image, reinterpret_cast<int32_t*>(base + 64 + panels));
  if (h.has_zero_points) p.zero_points_ = ArenaPtr<int32_t>(image, reinterpret_cast<int32_t*>(base + 64 + panels + sums));
  return p;
}

}  // namespace ember::runtime::qgemm
