// ember.fused MaxPoolChannelsLast (optimizer/rewrite_channels_last.h): MaxPool (no Indices) of
// a channels-last X [N, spatial..., C], writing Y channels-last or as planes [N, C, out...].
// Each window's taps are visited in MaxPool's order (runtime/kernels/pool.cc: the first tap
// inside the input, then each greater one, axes row-major), all channels of a tap at once, so
// the results are MaxPool's, NaN included; a window with no tap inside gives lowest().
#include <algorithm>
#include <limits>
#include <vector>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/conv_layout.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/window_geometry.h"
#include "runtime/parallel.h"

namespace ember::runtime::fused {
namespace {

// best[c] = max over the window's taps of x[tap, c]; `row_stride[a]` floats per step of axis a.
void pool_window(const float* x, const std::vector<const AxisTaps*>& window, const std::vector<int64_t>& dilation,
                 const std::vector<int64_t>& row_stride, int64_t channels, std::vector<int64_t>& k, float* best) {
  int64_t valid = 1;
  for (const AxisTaps* t : window) valid *= t->count;
  if (valid == 0) {
    std::fill_n(best, channels, std::numeric_limits<float>::lowest());
    return;
  }
  std::fill(k.begin(), k.end(), 0);
  for (int64_t tap = 0; tap < valid; ++tap) {
    int64_t offset = 0;
    for (size_t a = 0; a < window.size(); ++a) offset += (window[a]->start + k[a] * dilation[a]) * row_stride[a];
    const float* v = x + offset;
    if (tap == 0) {
      std::copy_n(v, channels, best);
    } else {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) best[c] = v[c] > best[c] ? v[c] : best[c];
    }
    for (size_t a = window.size(); a-- > 0;) {  // odometer over the window's taps
      if (++k[a] < window[a]->count) break;
      k[a] = 0;
    }
  }
}

// The same over two spatial axes, as plain loops: best = max over rows.count x cols.count taps.
void pool_window_2d(const float* x, const AxisTaps& rows, const AxisTaps& cols, int64_t d0, int64_t d1, int64_t width,
                    int64_t channels, float* best) {
  if (rows.count == 0 || cols.count == 0) {
    std::fill_n(best, channels, std::numeric_limits<float>::lowest());
    return;
  }
  for (int64_t r = 0; r < rows.count; ++r)
    for (int64_t c = 0; c < cols.count; ++c) {
      const float* v = x + ((rows.start + r * d0) * width + cols.start + c * d1) * channels;
      if (r == 0 && c == 0) {
        std::copy_n(v, channels, best);
        continue;
      }
#pragma omp simd
      for (int64_t i = 0; i < channels; ++i) best[i] = v[i] > best[i] ? v[i] : best[i];
    }
}

class MaxPoolChannelsLastKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(attrs_, read_window_attrs(ctx.node));
    if (attrs_.kernel_shape.empty()) return invalid_input("attribute kernel_shape is required");
    y_channels_last_ = ctx.node.attr_int("y_channels_last", 0) != 0;
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    if (!ctx.has_input(0)) return invalid_input(ctx.where() + ": needs input X");
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    if (x.rank() != static_cast<int64_t>(attrs_.kernel_shape.size()) + 2)
      return invalid_input(ctx.where() + ": X " + shape_to_string(x.shape()) + " does not match kernel_shape");
    const int64_t rank = x.rank(), batch = x.dim(0), channels = x.dim(rank - 1);
    const std::vector<int64_t> spatial(x.shape().begin() + 1, x.shape().end() - 1);
    EMBER_ASSIGN_OR_RETURN(WindowGeometry g, resolve_window(attrs_, spatial, attrs_.kernel_shape, ctx.where()));
    Shape out_shape{batch};
    if (!y_channels_last_) out_shape.push_back(channels);
    out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
    if (y_channels_last_) out_shape.push_back(channels);
    Tensor& y = ctx.allocate_output(0, DType::kF32, out_shape);
    if (y.numel() == 0) return Status::Ok();

    const auto taps = axis_taps(g);
    const size_t axes = spatial.size();
    std::vector<int64_t> row_stride(axes, channels);
    for (size_t a = axes - 1; a-- > 0;) row_stride[a] = row_stride[a + 1] * g.in[a + 1];
    const int64_t in_size = g.in_size(), out_size = g.out_size();
    const int64_t chunks = std::min<int64_t>(batch, std::max(1, num_threads()));
    Tensor rows;
    if (!y_channels_last_) rows = ctx.allocator.allocate(DType::kF32, {chunks * out_size * channels});
    const float* px = x.data<float>();
    float* py = y.mutable_data<float>();
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      std::vector<const AxisTaps*> window(axes);
      std::vector<int64_t> o(axes), k(axes);
      for (int64_t chunk = c0; chunk < c1; ++chunk)
        for (int64_t n = batch * chunk / chunks; n < batch * (chunk + 1) / chunks; ++n) {
          float* out = y_channels_last_ ? py + n * out_size * channels : rows.mutable_data<float>() + chunk * out_size * channels;
          const float* image = px + n * in_size * channels;
          if (axes == 2) {
            for (int64_t p = 0; p < out_size; ++p)
              pool_window_2d(image, taps[0][size_t(p / g.out[1])], taps[1][size_t(p % g.out[1])], g.dilation[0],
                             g.dilation[1], g.in[1], channels, out + p * channels);
          }
          std::fill(o.begin(), o.end(), 0);
          for (int64_t p = 0; axes != 2 && p < out_size; ++p) {
            for (size_t a = 0; a < axes; ++a) window[a] = &taps[a][size_t(o[a])];
            pool_window(image, window, g.dilation, row_stride, channels, k, out + p * channels);
            for (size_t a = axes; a-- > 0;) {  // odometer over output positions
              if (++o[a] < g.out[a]) break;
              o[a] = 0;
            }
          }
          if (!y_channels_last_) rows_to_planes(out, out_size, channels, channels, py + n * channels * out_size);
        }
    });
    return Status::Ok();
  }

 private:
  WindowAttrs attrs_;
  bool y_channels_last_ = false;
};

}  // namespace

void register_maxpool_channels_last_kernel(KernelRegistry& registry) {
  registry.add(kMaxPoolChannelsLast, kDomain, 1, [] { return std::make_unique<MaxPoolChannelsLastKernel>(); });
}

}  // namespace ember::runtime::fused
