#include "runtime/kernels/conv_layout.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "runtime/gemm/conv_gemm.h"

namespace ember::runtime {
namespace {

// Calls fn(line, padded offset of the line's first element) for every line (all axes but the
// last) of g's input, lines in row-major order.
template <class F>
void for_each_line(const WindowGeometry& g, const WindowGeometry& padded, F&& fn) {
  for_each_line(g.in, padded.in, g.pad_begin, std::forward<F>(fn));
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

void max_pool_channels_last(const float* x, const WindowGeometry& g, const std::vector<std::vector<AxisTaps>>& taps,
                            int64_t channels, float* out) {
  const size_t axes = taps.size();
  constexpr int64_t kSmallWindow = 64;
  if (axes == 2 && g.kernel_size() <= kSmallWindow) {  // the common case, without odometers or allocation
    int64_t offsets[kSmallWindow];
    const int64_t width = g.in[1], d0 = g.dilation[0], d1 = g.dilation[1];
    for (const AxisTaps& rows : taps[0])
      for (const AxisTaps& cols : taps[1]) {
        int64_t count = 0;
        for (int64_t r = 0; r < rows.count; ++r)
          for (int64_t c = 0; c < cols.count; ++c) offsets[count++] = ((rows.start + r * d0) * width + cols.start + c * d1) * channels;
        if (count > 0) max_of_runs(x, offsets, count, channels, out);
        else std::fill_n(out, channels, std::numeric_limits<float>::lowest());
        out += channels;
      }
    return;
  }
  std::vector<int64_t> row_stride(axes, channels);
  for (size_t a = axes - 1; a-- > 0;) row_stride[a] = row_stride[a + 1] * g.in[a + 1];
  std::vector<const AxisTaps*> window(axes);
  std::vector<int64_t> o(axes, 0), k(axes), offsets(static_cast<size_t>(g.kernel_size()));
  const int64_t out_size = g.out_size();
  for (int64_t p = 0; p < out_size; ++p) {
    int64_t count = 1;
    for (size_t a = 0; a < axes; ++a) {
      window[a] = &taps[a][size_t(o[a])];
      count *= window[a]->count;
    }
    std::fill(k.begin(), k.end(), 0);
    for (int64_t t = 0; t < count; ++t) {  // the window's taps inside the input, row-major
      int64_t offset = 0;
      for (size_t a = 0; a < axes; ++a) offset += (window[a]->start + k[a] * g.dilation[a]) * row_stride[a];
      offsets[size_t(t)] = offset;
      for (size_t a = axes; a-- > 0;) {
        if (++k[a] < window[a]->count) break;
        k[a] = 0;
      }
    }
    if (count > 0) max_of_runs(x, offsets.data(), count, channels, out + p * channels);
    else std::fill_n(out + p * channels, channels, std::numeric_limits<float>::lowest());
    for (size_t a = axes; a-- > 0;) {  // odometer over output positions
      if (++o[a] < g.out[a]) break;
      o[a] = 0;
    }
  }
}

}  // namespace ember::runtime
