// ember.fused ConvChannelsLast (optimizer/rewrite_channels_last.h): Conv with constant f32
// weights as an implicit GEMM over channels-last images (runtime/gemm/conv_gemm.h), reading X
// and writing Y in either layout, with an optional ReLU in the epilogue and, when it has the
// attributes pool_kernel_shape (and pool_strides, pool_pads, ...: MaxPool's, prefixed), the
// MaxPool that alone read it, applied to each image's rows while they are in cache:
//   Y[n, p, g * M/g + m] = act(B[g * M/g + m] + sum_(t, c) Xcl[n, window(p, t), g * C/g + c] * W[g * M/g + m, c, t])
// X planes [N, C, spatial...] are copied channel-minor into a zero-padded image first; a
// channels-last X is copied only when it needs padding or has groups (rows of its channels),
// else read in place. A channels-last Y is the GEMM's own output ([positions, M] per image);
// planes are its transpose. The products and their order are those of the packed Conv
// (conv_packed.h): the depth runs over (tap, channel), the bias comes last.
// Which lanes: the output channels (runtime/gemm/conv_gemm.h) or, for stride-1 convs whose
// channels fill the vector worse than their positions (choose_position_lanes: digits-cnn's
// pruned c2, 11 channels, 16 lanes), the output positions (runtime/gemm/conv_lanes.h) over
// padded planes; chosen per input size, or forced by the attribute lanes = "channels" |
// "positions". Both paths compute the same floats per output (the same FMAs in the same order).
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/fused/conv_lanes_layout.h"
#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/gemm/conv_gemm.h"
#include "runtime/gemm/conv_lanes.h"
#include "runtime/kernels/conv_layout.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/window_geometry.h"
#include "runtime/parallel.h"

namespace ember::runtime::fused {
namespace {

// Where one image's windows start and the runs of floats they read, for images of `channels`
// floats per position (padded geometry: no padding left).
struct WindowRuns {
  std::vector<int64_t> positions, runs;
  int64_t run_length = 0;
};

bool stride_one(const std::vector<int64_t>& strides) {
  return std::all_of(strides.begin(), strides.end(), [](int64_t s) { return s == 1; });
}

WindowRuns window_runs(const WindowGeometry& padded, int64_t channels) {
  const int64_t taps = padded.kernel_size(), count = padded.out_size();
  std::vector<int64_t> offsets(static_cast<size_t>(count * taps));
  tap_offsets(padded, offsets.data());
  // The taps along the kernel's last axis are side by side when its dilation is 1, and with
  // them their channels: one run.
  const int64_t side_by_side = padded.dilation.back() == 1 ? padded.kernel.back() : 1;
  WindowRuns w;
  w.run_length = side_by_side * channels;
  for (int64_t p = 0; p < count; ++p) w.positions.push_back(offsets[size_t(p * taps)] * channels);
  for (int64_t t = 0; t < taps; t += side_by_side) w.runs.push_back(offsets[size_t(t)] * channels);
  return w;
}

class ConvChannelsLastKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(attrs_, read_window_attrs(ctx.node));
    attrs_.ceil_mode = false;
    group_ = ctx.node.attr_int("group", 1);
    x_channels_last_ = ctx.node.attr_int("x_channels_last", 0) != 0;
    y_channels_last_ = ctx.node.attr_int("y_channels_last", 0) != 0;
    const std::string activation = ctx.node.attr_string("activation", "");
    if (!activation.empty() && activation != "relu") return invalid_input("unknown activation '" + activation + "'");
    relu_ = activation == "relu";
    lanes_ = ctx.node.attr_string("lanes", "");
    if (!lanes_.empty() && lanes_ != "channels" && lanes_ != "positions") return invalid_input("unknown lanes '" + lanes_ + "'");
    if (ctx.node.find_attr("pool_kernel_shape")) {  // a MaxPool after the conv, in its epilogue
      ir::Node pool;
      for (const ir::Attribute& a : ctx.node.attributes)
        if (a.name.rfind("pool_", 0) == 0) {
          pool.attributes.push_back(a);
          pool.attributes.back().name = a.name.substr(5);
        }
      EMBER_ASSIGN_OR_RETURN(pool_attrs_, read_window_attrs(pool));
      pooled_ = true;
    }
    const Tensor* w = ctx.constant(1);
    if (!w || w->dtype() != DType::kF32 || w->rank() < 3 || group_ < 1 || w->dim(0) % group_ != 0)
      return invalid_input("needs constant f32 weights [M, C/group, kernel...] with M divisible by group");
    w_shape_ = w->shape();
    const int64_t maps = w->dim(0), mg = maps / group_, cg = w->dim(1);
    const int64_t depth = w->numel() / std::max<int64_t>(maps, 1), taps = depth / std::max<int64_t>(cg, 1);
    std::vector<float> reordered(static_cast<size_t>(mg * depth));  // W_g [M/g, C/g, taps] as [M/g, taps, C/g]
    for (int64_t grp = 0; grp < group_; ++grp) {
      const float* wg = w->data<float>() + grp * mg * depth;
      for (int64_t m = 0; m < mg; ++m)
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t t = 0; t < taps; ++t) reordered[size_t(m * depth + t * cg + c)] = wg[m * depth + c * taps + t];
      weights_.push_back(PackedConvWeights::pack(reordered.data(), mg, depth));
    }
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    if (!ctx.has_input(0)) return invalid_input(ctx.where() + ": needs input X");
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    if (x.rank() != static_cast<int64_t>(w_shape_.size()))
      return invalid_input(ctx.where() + ": X " + shape_to_string(x.shape()) + " must have the rank of W " + shape_to_string(w_shape_));
    const int64_t rank = x.rank(), channels = x_channels_last_ ? x.dim(rank - 1) : x.dim(1);
    const int64_t maps = w_shape_[0], cg = w_shape_[1];
    if (channels != cg * group_)
      return invalid_input(ctx.where() + ": X " + shape_to_string(x.shape()) + " has " + std::to_string(channels) +
                           " channels, W " + shape_to_string(w_shape_) + " with group " + std::to_string(group_) + " needs " +
                           std::to_string(cg * group_));
    const float* bias = nullptr;
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      if (b.dtype() != DType::kF32 || b.rank() != 1 || b.dim(0) != maps)
        return invalid_input(ctx.where() + ": B must be f32 [" + std::to_string(maps) + "], got " + shape_to_string(b.shape()));
      bias = b.data<float>();
    }
    EMBER_TRY(update_geometry(ctx, x_channels_last_ ? std::vector<int64_t>(x.shape().begin() + 1, x.shape().end() - 1)
                                                     : std::vector<int64_t>(x.shape().begin() + 2, x.shape().end())));
    const std::vector<int64_t>& out_spatial = pooled_ ? pool_g_.out : g_.out;
    Shape out_shape{x.dim(0)};
    if (!y_channels_last_) out_shape.push_back(maps);
    out_shape.insert(out_shape.end(), out_spatial.begin(), out_spatial.end());
    if (y_channels_last_) out_shape.push_back(maps);
    Tensor& y = ctx.allocate_output(0, DType::kF32, out_shape);
    if (y.numel() > 0) compute(x, bias, ctx.allocator, y);
    return Status::Ok();
  }

 private:
  // The conv's geometry, padded input and window runs, and the pool's geometry and taps, for
  // the input's spatial sizes (kept for the next call with the same sizes).
  Status update_geometry(const RunContext& ctx, const std::vector<int64_t>& spatial) {
    if (spatial == cached_spatial_) return Status::Ok();
    const std::vector<int64_t> kernel(w_shape_.begin() + 2, w_shape_.end());
    EMBER_ASSIGN_OR_RETURN(WindowGeometry g, resolve_window(attrs_, spatial, kernel, ctx.where()));
    for (size_t a = 0; a < g.in.size(); ++a)
      if (g.pad_begin[a] < 0 || g.pad_end[a] < 0) return invalid_input(ctx.where() + ": negative pads are not supported here");
    if (pooled_) {
      EMBER_ASSIGN_OR_RETURN(pool_g_, resolve_window(pool_attrs_, g.out, pool_attrs_.kernel_shape, ctx.where()));
      pool_taps_ = axis_taps(pool_g_);
    }
    padded_ = padded_input(g);
    if (lanes_ == "positions" && !stride_one(g.stride)) return invalid_input(ctx.where() + ": lanes 'positions' needs stride 1");
    position_lanes_ = false;
    if (lanes_ != "channels" && stride_one(g.stride)) {
      grid_ = lane_grid(g, padded_);
      const LaneShape shape = conv_lane_shape(w_shape_, group_, g, grid_.count, pooled_ ? pool_g_.out_size() : g.out_size(),
                                              x_channels_last_, y_channels_last_);
      position_lanes_ = lanes_ == "positions" || choose_position_lanes(shape);
      // Packed the first time they are chosen (most convs never are).
      for (size_t grp = lane_weights_.size(); position_lanes_ && grp < weights_.size(); ++grp)
        lane_weights_.push_back(PackedLaneWeights::pack(weights_[grp].plain(), weights_[grp].N(), weights_[grp].K()));
      if (position_lanes_ && pooled_) grid_pool_ = grid_pool(pool_g_, pool_taps_, padded_);
    }
    if (!position_lanes_) runs_ = window_runs(padded_, w_shape_[1]);  // the channel-lanes tile's window runs
    g_ = std::move(g);
    cached_spatial_ = spatial;
    return Status::Ok();
  }

  // Y from X (shapes checked): per image and group, the padded channels-last copy (unless X is
  // read in place), the GEMM into the NHWC rows (Y's own when nothing follows), then the pool
  // and the transpose to planes when asked.
  void compute(const Tensor& x, const float* bias, TensorAllocator& allocator, Tensor& y) const {
    if (position_lanes_) return compute_position_lanes(x, bias, allocator, y);
    const int64_t batch = x.dim(0), maps = w_shape_[0], cg = w_shape_[1], mg = maps / group_, channels = cg * group_;
    bool padded_any = false;
    for (size_t a = 0; a < g_.in.size(); ++a) padded_any = padded_any || g_.pad_begin[a] > 0 || g_.pad_end[a] > 0;
    const bool in_place = x_channels_last_ && group_ == 1 && !padded_any;  // X itself is the padded image
    const int64_t positions = g_.out_size(), in_size = g_.in_size(), image_floats = padded_.in_size() * cg;
    const int64_t out_positions = pooled_ ? pool_g_.out_size() : positions;
    // Per chunk of images: the padded image, the conv's rows when they are not Y's own, and
    // the pooled rows when Y is planes.
    const int64_t conv_rows = pooled_ || !y_channels_last_ ? positions * maps : 0;
    const int64_t pooled_rows = pooled_ && !y_channels_last_ ? out_positions * maps : 0;
    // Enough images: each thread takes a chunk of them. Fewer images than threads (batch 1):
    // the threads share each image's output positions instead.
    const bool split_positions = batch < num_threads();
    const int64_t chunks = split_positions ? 1 : std::min<int64_t>(batch, std::max(1, num_threads()));
    const int64_t scratch_floats = (in_place ? 0 : image_floats) + conv_rows + pooled_rows;
    Tensor scratch;
    if (scratch_floats > 0) scratch = allocator.allocate(DType::kF32, {chunks * scratch_floats});
    const float* px = x.data<float>();
    float* py = y.mutable_data<float>();
    auto run_images = [&](int64_t chunk) {
      float* base = scratch_floats > 0 ? scratch.mutable_data<float>() + chunk * scratch_floats : nullptr;
      float* image = in_place ? nullptr : base;
      float* rows = conv_rows ? base + (in_place ? 0 : image_floats) : nullptr;
      float* pooled = pooled_rows ? rows + conv_rows : nullptr;
      if (image) std::fill_n(image, image_floats, 0.0f);  // the padding, never written after
      for (int64_t n = batch * chunk / chunks; n < batch * (chunk + 1) / chunks; ++n) {
        float* y_rows = rows ? rows : py + n * positions * maps;  // [positions, maps]
        for (int64_t grp = 0; grp < group_; ++grp) {
          ConvGemmArgs a;
          a.image = image ? image : px + n * in_size * channels;
          if (image && x_channels_last_) copy_channels_last_padded(px + n * in_size * channels, channels, grp * cg, cg, g_, padded_, image);
          else if (image) copy_planes_to_channels_last(px + (n * channels + grp * cg) * in_size, cg, g_, padded_, image);
          a.positions = runs_.positions.data();
          a.count = positions;
          a.runs = runs_.runs.data();
          a.run_count = static_cast<int64_t>(runs_.runs.size());
          a.run_length = runs_.run_length;
          a.bias = bias ? bias + grp * mg : nullptr;
          a.relu = relu_;
          a.y = y_rows + grp * mg;
          a.ldc = maps;
          if (split_positions) conv_gemm_shared(a, weights_[size_t(grp)]);
          else conv_gemm(a, weights_[size_t(grp)]);
        }
        float* y_image = py + n * out_positions * maps;
        if (pooled_) max_pool_channels_last(y_rows, pool_g_, pool_taps_, maps, y_channels_last_ ? y_image : pooled);
        if (!y_channels_last_) rows_to_planes(pooled_ ? pooled : y_rows, out_positions, maps, maps, y_image);
      }
    };
    if (split_positions) {
      run_images(0);
      return;
    }
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t chunk = c0; chunk < c1; ++chunk) run_images(chunk);
    });
  }

  // Y from X with the positions as lanes: per image, X into the padded planes, each group's
  // grid rows, then the outputs off the grid into Y's layout (through the pool when asked).
  void compute_position_lanes(const Tensor& x, const float* bias, TensorAllocator& allocator, Tensor& y) const {
    const int64_t batch = x.dim(0), maps = w_shape_[0], cg = w_shape_[1], mg = maps / group_, channels = cg * group_;
    const int64_t width = lane_width(), ldg = (grid_.count + width - 1) / width * width;
    const int64_t in_size = g_.in_size(), positions = g_.out_size();
    const int64_t out_positions = pooled_ ? pool_g_.out_size() : positions;
    const int64_t image_floats = channels * grid_.plane + width;  // the last vector's reads past the image
    // Per image at once: its padded planes, then its grid. Two images at once: an image's last,
    // partial tile of vectors is filled with the next one's first.
    constexpr int64_t kTogether = 2;
    const int64_t per_image = image_floats + maps * ldg;
    const int64_t pooled_planes = pooled_ && y_channels_last_ ? maps * out_positions : 0;
    // Fewer images than threads (batch 1): the threads share each image's grid instead.
    const bool split_grid = batch < num_threads();
    const int64_t slots = split_grid ? 1 : kTogether;  // images held at once per chunk
    const int64_t scratch_floats = slots * per_image + pooled_planes;
    const int64_t chunks = split_grid ? 1 : std::min<int64_t>(batch, std::max(1, num_threads()));
    Tensor scratch = allocator.allocate(DType::kF32, {chunks * scratch_floats});
    const float* px = x.data<float>();
    float* py = y.mutable_data<float>();
    auto run_images = [&](int64_t chunk) {
      float* base = scratch.mutable_data<float>() + chunk * scratch_floats;
      float* pooled = base + slots * per_image;
      for (int64_t i = 0; i < slots; ++i) std::fill_n(base + i * per_image, image_floats, 0.0f);  // padding, tail
      const int64_t last = batch * (chunk + 1) / chunks;
      for (int64_t n0 = batch * chunk / chunks, together = 0; n0 < last; n0 += together) {
        together = std::min(slots, last - n0);  // shared grids: one image at a time
        for (int64_t i = 0; i < together; ++i) {
          const float* xn = px + (n0 + i) * in_size * channels;
          if (x_channels_last_) channels_last_to_padded_planes(xn, channels, 0, channels, grid_, base + i * per_image);
          else planes_to_padded_planes(xn, channels, grid_, base + i * per_image);
        }
        for (int64_t grp = 0; grp < group_; ++grp) {
          LaneConvArgs a;
          a.image = base + grp * cg * grid_.plane;
          a.plane = grid_.plane;
          a.channels = cg;
          a.taps = grid_.taps.data();
          a.tap_count = static_cast<int64_t>(grid_.taps.size());
          a.count = grid_.count;
          a.bias = bias ? bias + grp * mg : nullptr;
          a.relu = relu_;
          a.y = base + image_floats + grp * mg * ldg;
          a.ldy = ldg;
          a.images = together;
          a.image_stride = a.y_stride = per_image;
          if (split_grid) conv_lanes_shared(a, lane_weights_[size_t(grp)], width);
          else conv_position_lanes(a, lane_weights_[size_t(grp)]);
        }
        for (int64_t i = 0; i < together; ++i) {
          const float* grid = base + i * per_image + image_floats;
          float* y_image = py + (n0 + i) * out_positions * maps;
          if (!pooled_) {
            if (y_channels_last_) grid_to_rows(grid, ldg, maps, grid_, maps, y_image);
            else grid_to_planes(grid, ldg, maps, grid_, y_image);
            continue;
          }
          max_pool_grid(grid, ldg, maps, grid_pool_, y_channels_last_ ? pooled : y_image);  // [maps, out_positions]
          if (y_channels_last_) planes_to_rows(pooled, out_positions, maps, maps, y_image);
        }
      }
    };
    if (split_grid) {
      run_images(0);
      return;
    }
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t chunk = c0; chunk < c1; ++chunk) run_images(chunk);
    });
  }

  // conv_position_lanes with the grid shared among the threads, in blocks of whole vectors.
  static void conv_lanes_shared(const LaneConvArgs& a, const PackedLaneWeights& w, int64_t width) {
    const int64_t block = 4 * width, blocks = (a.count + block - 1) / block;
    const int64_t macs_per_block = block * w.K() * w.M();
    parallel_for(blocks, std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(macs_per_block, 1)),
                 [&](int64_t b0, int64_t b1) {
                   LaneConvArgs part = a;
                   part.image = a.image + b0 * block;
                   part.count = std::min(a.count, b1 * block) - b0 * block;
                   part.y = a.y + b0 * block;
                   conv_position_lanes(part, w);
                 });
  }

  // conv_gemm with its output positions shared among the threads, in blocks of whole tiles.
  static void conv_gemm_shared(const ConvGemmArgs& a, const PackedConvWeights& w) {
    constexpr int64_t kBlock = 48;  // positions per task: whole tiles at every ISA level
    const int64_t blocks = (a.count + kBlock - 1) / kBlock;
    const int64_t macs_per_block = kBlock * w.K() * w.N();
    parallel_for(blocks, std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(macs_per_block, 1)),
                 [&](int64_t b0, int64_t b1) {
                   ConvGemmArgs part = a;
                   part.positions = a.positions + b0 * kBlock;
                   part.count = std::min(a.count, b1 * kBlock) - b0 * kBlock;
                   part.y = a.y + b0 * kBlock * a.ldc;
                   conv_gemm(part, w);
                 });
  }

  WindowAttrs attrs_;
  std::string lanes_;  // "", "channels" or "positions"
  int64_t group_ = 1;
  bool x_channels_last_ = false, y_channels_last_ = false, relu_ = false, pooled_ = false;
  WindowAttrs pool_attrs_;
  // For the last input size seen (run() is never entered twice at once): the conv's geometry,
  // padded input, window runs, the pool's geometry and taps.
  std::vector<int64_t> cached_spatial_;
  WindowGeometry g_, padded_, pool_g_;
  WindowRuns runs_;
  bool position_lanes_ = false;
  LaneGrid grid_;
  GridPool grid_pool_;
  std::vector<std::vector<AxisTaps>> pool_taps_;
  Shape w_shape_;
  std::vector<PackedConvWeights> weights_;  // per group
  std::vector<PackedLaneWeights> lane_weights_;  // per group
};

}  // namespace

void register_conv_channels_last_kernel(KernelRegistry& registry) {
  registry.add(kConvChannelsLast, kDomain, 1, [] { return std::make_unique<ConvChannelsLastKernel>(); });
}

}  // namespace ember::runtime::fused
