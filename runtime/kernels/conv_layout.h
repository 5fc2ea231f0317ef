// Layout helpers shared by the packed Conv paths (conv_packed.h, the channels-last Conv and
// MaxPool of runtime/fused): zero-padded channel-minor copies of an image, the input offsets a
// window reads, the transpose from channel-minor rows back to channel planes, and MaxPool over
// a channel-minor image.
// "Channels-last" (CL) is [spatial..., C] per image, NHWC for 2-D; "planes" is [C, spatial...].
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/kernels/window_geometry.h"

namespace ember::runtime {

// Calls fn(line, flat index in `extent` of the line's first element) for every line (all axes
// but the last) of `sizes`, each coordinate shifted by `shift` (row-major order).
template <class F>
void for_each_line(const std::vector<int64_t>& sizes, const std::vector<int64_t>& extent, const std::vector<int64_t>& shift,
                   F&& fn) {
  const size_t rank = sizes.size(), last = rank - 1;
  int64_t lines = 1;
  for (size_t a = 0; a < last; ++a) lines *= sizes[a];
  if (lines == 0 || sizes[last] == 0) return;
  std::vector<int64_t> i(rank, 0);
  for (int64_t line = 0; line < lines; ++line) {
    int64_t offset = 0;
    for (size_t a = 0; a < rank; ++a) offset = offset * extent[a] + i[a] + shift[a];
    fn(line, offset);
    for (size_t a = last; a-- > 0;) {  // odometer over all axes but the last
      if (++i[a] < sizes[a]) break;
      i[a] = 0;
    }
  }
}

// The input extent with its padding on both sides: every tap of every window lies inside
// (Conv's output size guarantees it), so patches gather from a zero-padded copy without tests.
WindowGeometry padded_input(const WindowGeometry& g);

// offsets[p * taps + t]: the input position (flat index over the spatial axes) that output
// position p reads at kernel tap t; g must have no padding (see padded_input).
void tap_offsets(const WindowGeometry& g, int64_t* offsets);

// Copies `channels` planes of x [C, in...] channel-minor into the interior of the zero-padded
// buffer out [padded in..., channels] (its padding was zeroed once and is never written).
void copy_planes_to_channels_last(const float* x, int64_t channels, const WindowGeometry& g,
                                  const WindowGeometry& padded, float* out);

// The same from a channels-last image x [in..., stride] (channels [first, first + channels) of
// each position's `stride`), one run of channels per position.
void copy_channels_last_padded(const float* x, int64_t stride, int64_t first, int64_t channels,
                               const WindowGeometry& g, const WindowGeometry& padded, float* out);

// y[m * positions + p] = rows[p * ld + m] for m < maps: one image's channel-minor rows into
// its planes.
void rows_to_planes(const float* rows, int64_t positions, int64_t maps, int64_t ld, float* y);

// MaxPool of one channels-last image x [in..., channels] into out [out..., channels], g being
// the pool's window over x and taps = axis_taps(g). Each window's taps are visited in MaxPool's
// order (runtime/kernels/pool.cc: the first tap inside the input, then each greater one, axes
// row-major), all channels of a tap at once, so the results are MaxPool's, NaN included; a
// window with no tap inside gives lowest().
void max_pool_channels_last(const float* x, const WindowGeometry& g, const std::vector<std::vector<AxisTaps>>& taps,
                            int64_t channels, float* out);

}  // namespace ember::runtime
