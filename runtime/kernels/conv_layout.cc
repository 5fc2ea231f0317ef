#include "runtime/kernels/conv_layout.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ember::runtime {
namespace {

// Calls fn(line, padded offset of the line's first element) for every line (all axes but the
// last) of g's input, lines in row-major order.
template <class F>
void for_each_line(const WindowGeometry& g, const WindowGeometry& padded, F&& fn) {
  const size_t rank = static_cast<size_t>(g.rank()), last = rank - 1;
  const int64_t lines = g.in_size() / g.in[last];
  std::vector<int64_t> i(rank, 0);
  for (int64_t line = 0; line < lines; ++line) {
    int64_t offset = 0;
    for (size_t a = 0; a < rank; ++a) offset = offset * padded.in[a] + i[a] + g.pad_begin[a];
    fn(line, offset);
    for (size_t a = last; a-- > 0;) {  // odometer over all axes but the last
      if (++i[a] < g.in[a]) break;
      i[a] = 0;
    }
  }
}

}  // namespace

WindowGeometry padded_input(const WindowGeometry& g) {
  WindowGeometry p = g;
  for (size_t a = 0; a < p.in.size(); ++a) {
    p.in[a] = g.in[a] + g.pad_begin[a] + g.pad_end[a];
    p.pad_begin[a] = p.pad_end[a] = 0;
  }
  return p;
}

void tap_offsets(const WindowGeometry& g, int64_t* offsets) {
  const size_t rank = static_cast<size_t>(g.rank());
  std::vector<int64_t> o(rank, 0), k(rank, 0);
  const int64_t positions = g.out_size(), taps = g.kernel_size();
  for (int64_t p = 0; p < positions; ++p) {
    std::fill(k.begin(), k.end(), 0);
    for (int64_t t = 0; t < taps; ++t) {
      int64_t offset = 0;
      for (size_t a = 0; a < rank; ++a) offset = offset * g.in[a] + o[a] * g.stride[a] + k[a] * g.dilation[a];
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

void copy_planes_to_channels_last(const float* x, int64_t channels, const WindowGeometry& g,
                                  const WindowGeometry& padded, float* out) {
  const int64_t plane = g.in_size(), width = g.in.back();
  for_each_line(g, padded, [&](int64_t line, int64_t offset) {
    float* dst = out + offset * channels;
    const float* src = x + line * width;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t w = 0; w < width; ++w) dst[w * channels + c] = src[c * plane + w];
  });
}

void copy_channels_last_padded(const float* x, int64_t stride, int64_t first, int64_t channels,
                               const WindowGeometry& g, const WindowGeometry& padded, float* out) {
  const int64_t width = g.in.back();
  for_each_line(g, padded, [&](int64_t line, int64_t offset) {
    float* dst = out + offset * channels;
    const float* src = x + line * width * stride + first;
    if (stride == channels) {
      std::memcpy(dst, src, static_cast<size_t>(width * channels) * sizeof(float));
      return;
    }
    for (int64_t w = 0; w < width; ++w) std::memcpy(dst + w * channels, src + w * stride, static_cast<size_t>(channels) * sizeof(float));
  });
}

void rows_to_planes(const float* rows, int64_t positions, int64_t maps, int64_t ld, float* y) {
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t m = 0; m < maps; ++m) y[m * positions + p] = rows[p * ld + m];
}

}  // namespace ember::runtime
