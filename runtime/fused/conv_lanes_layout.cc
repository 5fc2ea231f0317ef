#include "runtime/fused/conv_lanes_layout.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/kernels/conv_layout.h"

namespace ember::runtime::fused {
namespace {

// A short line (digits-cnn's are 8 floats): memcpy of a size known only at run time is a
// library call costing more than the copy; fixed 16-byte pieces are plain moves.
inline void copy_line(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) std::memcpy(dst + i, src + i, 4 * sizeof(float));
  for (; i < n; ++i) dst[i] = src[i];
}

// max_pool_grid over whole windows; Taps > 0: the window's size, known when compiled.
template <int Taps>
void max_pool_uniform(const float* grid, int64_t ldg, int64_t maps, const GridPool& pool, float* out) {
  const int64_t taps = Taps > 0 ? Taps : static_cast<int64_t>(pool.window.size());
  const int64_t outputs = static_cast<int64_t>(pool.starts.size());
  const int64_t* window = pool.window.data();
  for (int64_t m = 0; m < maps; ++m)
    for (int64_t p = 0; p < outputs; ++p) {
      const float* g = grid + m * ldg + pool.starts[size_t(p)];
      float best = g[0];
#pragma GCC unroll 16
      for (int64_t t = 1; t < taps; ++t) best = g[window[t]] > best ? g[window[t]] : best;
      *out++ = best;
    }
}

}  // namespace

LaneGrid lane_grid(const WindowGeometry& g, const WindowGeometry& padded) {
  LaneGrid grid;
  grid.plane = padded.in_size();
  const int64_t taps = padded.kernel_size();
  std::vector<int64_t> offsets(static_cast<size_t>(padded.out_size() * taps));
  tap_offsets(padded, offsets.data());
  grid.taps.assign(offsets.begin(), offsets.begin() + taps);
  const std::vector<int64_t> origin(g.out.size(), 0);
  for_each_line(g.out, padded.in, origin, [&](int64_t, int64_t start) { grid.line_starts.push_back(start); });
  grid.line_width = g.out.back();
  grid.count = grid.line_starts.empty() ? 0 : grid.line_starts.back() + grid.line_width;
  for_each_line(g.in, padded.in, g.pad_begin, [&](int64_t, int64_t start) { grid.in_lines.push_back(start); });
  grid.in_width = g.in.back();
  return grid;
}

LaneShape conv_lane_shape(const std::vector<int64_t>& w_shape, int64_t group, const WindowGeometry& g, int64_t grid,
                          int64_t y_positions, bool x_channels_last, bool y_channels_last) {
  LaneShape s;
  s.groups = group;
  s.maps = w_shape[0] / group;
  s.depth = w_shape[1] * g.kernel_size();
  s.positions = g.out_size();
  s.grid = grid;
  s.x_floats = g.in_size() * w_shape[1] * group;
  s.y_floats = y_positions * w_shape[0];
  s.x_channels_last = x_channels_last;
  s.y_channels_last = y_channels_last;
  return s;
}

GridPool grid_pool(const WindowGeometry& pool, const std::vector<std::vector<AxisTaps>>& taps, const WindowGeometry& padded) {
  const size_t axes = taps.size();
  GridPool gp;
  std::vector<int64_t> o(axes, 0), k(axes, 0);
  for (int64_t p = 0; p < pool.out_size(); ++p) {
    int64_t count = 1;
    for (size_t a = 0; a < axes; ++a) count *= taps[a][size_t(o[a])].count;
    gp.counts.push_back(count);
    std::fill(k.begin(), k.end(), 0);
    for (int64_t t = 0; t < count; ++t) {  // the window's taps inside the conv's output, row-major
      int64_t offset = 0;
      for (size_t a = 0; a < axes; ++a) offset = offset * padded.in[a] + taps[a][size_t(o[a])].start + k[a] * pool.dilation[a];
      gp.offsets.push_back(offset);
      for (size_t a = axes; a-- > 0;) {
        if (++k[a] < taps[a][size_t(o[a])].count) break;
        k[a] = 0;
      }
    }
    for (size_t a = axes; a-- > 0;) {  // odometer over the pool's outputs
      if (++o[a] < pool.out[a]) break;
      o[a] = 0;
    }
  }
  const int64_t full = pool.kernel_size();
  gp.uniform = full > 0 && std::all_of(gp.counts.begin(), gp.counts.end(), [&](int64_t c) { return c == full; });
  for (size_t p = 0; gp.uniform && p < gp.counts.size(); ++p) gp.starts.push_back(gp.offsets[p * size_t(full)]);
  for (int64_t t = 0; gp.uniform && t < full; ++t) gp.window.push_back(gp.offsets[size_t(t)] - gp.offsets[0]);
  // A window whose taps are not the first one's shifted (never with a whole window) stays general.
  for (size_t p = 0; gp.uniform && p < gp.counts.size(); ++p)
    for (int64_t t = 0; t < full; ++t) gp.uniform = gp.uniform && gp.offsets[p * size_t(full) + size_t(t)] == gp.starts[p] + gp.window[size_t(t)];
  return gp;
}

void max_pool_grid(const float* grid, int64_t ldg, int64_t maps, const GridPool& pool, float* out) {
  const int64_t outputs = static_cast<int64_t>(pool.counts.size());
  if (pool.uniform) {
    switch (pool.window.size()) {  // the windows of 2x2 and 3x3 pools unrolled
      case 4:
        return max_pool_uniform<4>(grid, ldg, maps, pool, out);
      case 9:
        return max_pool_uniform<9>(grid, ldg, maps, pool, out);
      default:
        return max_pool_uniform<0>(grid, ldg, maps, pool, out);
    }
  }
  for (int64_t m = 0; m < maps; ++m) {
    const float* g = grid + m * ldg;
    const int64_t* tap = pool.offsets.data();
    for (int64_t p = 0; p < outputs; ++p) {
      const int64_t count = pool.counts[size_t(p)];
      float best = count > 0 ? g[tap[0]] : std::numeric_limits<float>::lowest();
      for (int64_t t = 1; t < count; ++t) best = g[tap[t]] > best ? g[tap[t]] : best;
      tap += count;
      *out++ = best;
    }
  }
}

void planes_to_padded_planes(const float* x, int64_t channels, const LaneGrid& lanes, float* out) {
  const int64_t lines = static_cast<int64_t>(lanes.in_lines.size()), width = lanes.in_width;
  for (int64_t c = 0; c < channels; ++c, x += lines * width, out += lanes.plane)
    for (int64_t line = 0; line < lines; ++line) copy_line(out + lanes.in_lines[size_t(line)], x + line * width, width);
}

void channels_last_to_padded_planes(const float* x, int64_t stride, int64_t first, int64_t channels, const LaneGrid& lanes,
                                    float* out) {
  const int64_t width = lanes.in_width;
  for (size_t line = 0; line < lanes.in_lines.size(); ++line) {
    const float* src = x + static_cast<int64_t>(line) * width * stride + first;
    float* dst = out + lanes.in_lines[line];
    for (int64_t w = 0; w < width; ++w)
      for (int64_t c = 0; c < channels; ++c) dst[c * lanes.plane + w] = src[w * stride + c];
  }
}

void grid_to_planes(const float* grid, int64_t ldg, int64_t maps, const LaneGrid& lanes, float* y) {
  const int64_t lines = static_cast<int64_t>(lanes.line_starts.size()), width = lanes.line_width;
  for (int64_t m = 0; m < maps; ++m)
    for (int64_t line = 0; line < lines; ++line)
      copy_line(y + (m * lines + line) * width, grid + m * ldg + lanes.line_starts[size_t(line)], width);
}

void grid_to_rows(const float* grid, int64_t ldg, int64_t maps, const LaneGrid& lanes, int64_t ld, float* rows) {
  const int64_t lines = static_cast<int64_t>(lanes.line_starts.size()), width = lanes.line_width;
  for (int64_t line = 0; line < lines; ++line)
    for (int64_t w = 0; w < width; ++w) {
      const float* src = grid + lanes.line_starts[size_t(line)] + w;
      float* dst = rows + (line * width + w) * ld;
      for (int64_t m = 0; m < maps; ++m) dst[m] = src[m * ldg];
    }
}

void planes_to_rows(const float* planes, int64_t positions, int64_t maps, int64_t ld, float* rows) {
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t m = 0; m < maps; ++m) rows[p * ld + m] = planes[m * positions + p];
}

}  // namespace ember::runtime::fused
