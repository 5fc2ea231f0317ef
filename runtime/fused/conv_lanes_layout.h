// Layouts of the position-lane conv (runtime/gemm/conv_lanes.h) inside ConvChannelsLast: the
// image as zero-padded planes [C][plane] and the output on the padded grid (output position
// (o_1..o_d) at flat index sum_i o_i * padded stride_i, stride 1 on every axis), from and to
// the op's layouts, planes [C, spatial...] and channels-last [spatial..., C].
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/gemm/conv_lanes.h"
#include "runtime/kernels/window_geometry.h"

namespace ember::runtime::fused {

struct LaneGrid {
  int64_t plane = 0;                // floats per padded input plane (padded in_size)
  int64_t count = 0;                // grid positions to compute: the last output's index + 1
  std::vector<int64_t> taps;        // per kernel tap (row-major): its flat offset in the padded plane
  std::vector<int64_t> line_starts;  // per output line (all axes but the last): its grid index
  int64_t line_width = 0;           // outputs per line (the last axis)
  std::vector<int64_t> in_lines;    // per input line (unpadded, row-major): its padded plane index
  int64_t in_width = 0;             // inputs per line
};

// A MaxPool over the conv's outputs read off the grid: per pool output, its taps inside the
// conv's output in MaxPool's order (row-major; runtime/kernels/pool.cc), as grid indices.
struct GridPool {
  std::vector<int64_t> offsets;  // all outputs' taps, one after the other
  std::vector<int64_t> counts;   // taps per output (0: the window lies in the padding)
  // When every window lies whole inside (no padding reached): output p's taps are
  // starts[p] + window[t], read without the per-output tables.
  bool uniform = false;
  std::vector<int64_t> starts, window;
};

// The grid of a conv with geometry g (stride 1 on every axis) over padded = padded_input(g).
LaneGrid lane_grid(const WindowGeometry& g, const WindowGeometry& padded);

// The cost model's view (conv_lanes.h) of one image of a stride-1 conv: weight shape w_shape
// [M, C / group, k...], geometry g, `grid` positions to compute (LaneGrid::count), Y holding
// `y_positions` outputs per map (the pool's, when one follows), X and Y in the layouts given.
LaneShape conv_lane_shape(const std::vector<int64_t>& w_shape, int64_t group, const WindowGeometry& g, int64_t grid,
                          int64_t y_positions, bool x_channels_last, bool y_channels_last);

// pool: the pool's geometry over the conv's output, taps = axis_taps(pool); padded: the conv's
// padded input, whose flat indices the grid uses.
GridPool grid_pool(const WindowGeometry& pool, const std::vector<std::vector<AxisTaps>>& taps, const WindowGeometry& padded);

// out[m * outputs + p] = max over pool p's taps of grid[m * ldg + tap], compared as MaxPool
// does (best = v > best ? v : best from the first tap on, NaN kept when first; lowest() when
// no tap is inside).
void max_pool_grid(const float* grid, int64_t ldg, int64_t maps, const GridPool& pool, float* out);

// Copies `channels` planes of x [channels, in...] into the interiors of the zero-padded planes
// out (lanes.plane floats apart; the padding was zeroed once and is never written).
void planes_to_padded_planes(const float* x, int64_t channels, const LaneGrid& lanes, float* out);

// The same from a channels-last image x [in..., stride], channels [first, first + channels).
void channels_last_to_padded_planes(const float* x, int64_t stride, int64_t first, int64_t channels, const LaneGrid& lanes,
                                    float* out);

// The outputs of `maps` grid rows (ldg floats apart) as planes y [maps, out...].
void grid_to_planes(const float* grid, int64_t ldg, int64_t maps, const LaneGrid& lanes, float* y);

// The outputs of `maps` grid rows as channel-minor rows: rows[p * ld + m].
void grid_to_rows(const float* grid, int64_t ldg, int64_t maps, const LaneGrid& lanes, int64_t ld, float* rows);

// planes [maps, positions] -> rows[p * ld + m].
void planes_to_rows(const float* planes, int64_t positions, int64_t maps, int64_t ld, float* rows);

}  // namespace ember::runtime::fused
