// ember.fused MaxPoolChannelsLast (optimizer/rewrite_channels_last.h): MaxPool (no Indices) of
// a channels-last X [N, spatial..., C], writing Y channels-last or as planes [N, C, out...],
// one image at a time with max_pool_channels_last (conv_layout.h): MaxPool's results, NaN
// included.
#include <algorithm>
#include <vector>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/conv_layout.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/window_geometry.h"
#include "runtime/parallel.h"

namespace ember::runtime::fused {
namespace {

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
    const int64_t in_size = g.in_size(), out_size = g.out_size();
    const int64_t chunks = std::min<int64_t>(batch, std::max(1, num_threads()));
    Tensor rows;
    if (!y_channels_last_) rows = ctx.allocator.allocate(DType::kF32, {chunks * out_size * channels});
    const float* px = x.data<float>();
    float* py = y.mutable_data<float>();
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t chunk = c0; chunk < c1; ++chunk)
        for (int64_t n = batch * chunk / chunks; n < batch * (chunk + 1) / chunks; ++n) {
          float* out = y_channels_last_ ? py + n * out_size * channels : rows.mutable_data<float>() + chunk * out_size * channels;
          max_pool_channels_last(px + n * in_size * channels, g, taps, channels, out);
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
