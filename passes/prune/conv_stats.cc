#include "passes/prune/conv_stats.h"

#include <algorithm>
#include <cmath>

#include "runtime/interpreter.h"

namespace ember::passes::prune {
namespace {

struct Watch {
  const ChannelConsumer* consumer = nullptr;
  const ir::Node* node = nullptr;
  Shape weight;
  analysis::LayerInputStats stats;
  int64_t stride = 0;  // keep every stride-th row (0: not fixed yet)
  uint64_t seen = 0;
  std::vector<float> rows;
};

int64_t pads_begin(const ir::Node& conv, int64_t axis, int64_t in, int64_t k, int64_t s, int64_t d, int64_t spatial_rank) {
  const std::string mode = conv.attr_string("auto_pad", "NOTSET");
  if (mode == "VALID") return 0;
  if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    const int64_t out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - in);
    return mode == "SAME_UPPER" ? total / 2 : total - total / 2;
  }
  const std::vector<int64_t> pads = conv.attr_ints("pads");
  return pads.size() == size_t(2 * spatial_rank) ? pads[size_t(axis)] : 0;
}

int64_t output_size(const ir::Node& conv, int64_t axis, int64_t in, int64_t k, int64_t s, int64_t d, int64_t spatial_rank) {
  const std::string mode = conv.attr_string("auto_pad", "NOTSET");
  if (mode == "SAME_UPPER" || mode == "SAME_LOWER") return (in + s - 1) / s;
  if (mode == "VALID") return (in - d * (k - 1) - 1) / s + 1;
  const std::vector<int64_t> pads = conv.attr_ints("pads");
  const int64_t total = pads.size() == size_t(2 * spatial_rank) ? pads[size_t(axis)] + pads[size_t(axis + spatial_rank)] : 0;
  return (in + total - d * (k - 1) - 1) / s + 1;
}

// Appends the im2col rows of image n of x [N, C, H, W] whose running index is kept.
void im2col_rows(const float* x, int64_t c_count, int64_t h, int64_t w, const ConvGeometry& g, Watch& watch) {
  const int64_t k = g.kh * g.kw, dim = c_count * k;
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      if (watch.seen++ % uint64_t(watch.stride) != 0) continue;
      const size_t base = watch.rows.size();
      watch.rows.resize(base + size_t(dim), 0.0f);
      float* row = watch.rows.data() + base;
      for (int64_t c = 0; c < c_count; ++c)
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t y = oy * g.sh - g.ph + i * g.dh;
          if (y < 0 || y >= h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t xx = ox * g.sw - g.pw + j * g.dw;
            if (xx >= 0 && xx < w) row[c * k + i * g.kw + j] = x[(c * h + y) * w + xx];
          }
        }
    }
}

Status observe(Watch& watch, const Tensor& value, int64_t max_rows) {
  const int64_t dim = watch.stats.dim;
  if (value.dtype() != DType::kF32) return invalid_input("prune-structured: '" + watch.consumer->input + "' is not f32");
  watch.rows.clear();
  const float* x = value.data<float>();
  if (watch.consumer->linear) {
    if (value.rank() != 2 || value.dim(1) != dim) return invalid_input("prune-structured: '" + watch.consumer->input + "' changed shape");
    if (watch.stride == 0) watch.stride = std::max<int64_t>(1, value.dim(0) / std::max<int64_t>(1, max_rows / 8));
    for (int64_t r = 0; r < value.dim(0); ++r)
      if (watch.seen++ % uint64_t(watch.stride) == 0) watch.rows.insert(watch.rows.end(), x + r * dim, x + (r + 1) * dim);
  } else {
    const int64_t n = value.dim(0), c = value.dim(1), h = value.rank() > 2 ? value.dim(2) : 1,
                  w = value.rank() > 3 ? value.dim(3) : 1;
    EMBER_ASSIGN_OR_RETURN(const ConvGeometry g, conv_geometry(*watch.node, watch.weight, value.shape()));
    // About an eighth of the row budget per batch, so that several batches contribute.
    if (watch.stride == 0) watch.stride = std::max<int64_t>(1, n * g.oh * g.ow / std::max<int64_t>(1, max_rows / 8));
    for (int64_t i = 0; i < n; ++i) im2col_rows(x + i * c * h * w, c, h, w, g, watch);
  }
  const int64_t rows = static_cast<int64_t>(watch.rows.size()) / dim;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dim; ++j) {
      const float v = watch.rows[size_t(r * dim + j)];
      watch.stats.sum[size_t(j)] += v;
      watch.stats.abs_sum[size_t(j)] += std::fabs(v);
    }
  watch.stats.rows += rows;
  watch.stats.xtx->add(watch.rows.data(), rows);
  return Status::Ok();
}

}  // namespace

Result<ConvGeometry> conv_geometry(const ir::Node& conv, const Shape& weight, const Shape& input) {
  const int64_t spatial = static_cast<int64_t>(weight.size()) - 2;
  if (spatial < 1 || spatial > 2 || input.size() != weight.size())
    return unsupported("prune-structured: Conv '" + conv.name + "': only 1-D and 2-D convolutions are refitted");
  ConvGeometry g;
  const std::vector<int64_t> strides = conv.attr_ints("strides"), dil = conv.attr_ints("dilations");
  auto at = [](const std::vector<int64_t>& v, size_t i) { return i < v.size() ? v[i] : int64_t{1}; };
  g.kh = weight[2], g.sh = at(strides, 0), g.dh = at(dil, 0);
  g.ph = pads_begin(conv, 0, input[2], g.kh, g.sh, g.dh, spatial);
  g.oh = output_size(conv, 0, input[2], g.kh, g.sh, g.dh, spatial);
  if (spatial == 2) {
    g.kw = weight[3], g.sw = at(strides, 1), g.dw = at(dil, 1);
    g.pw = pads_begin(conv, 1, input[3], g.kw, g.sw, g.dw, spatial);
    g.ow = output_size(conv, 1, input[3], g.kw, g.sw, g.dw, spatial);
  } else {
    g.ow = 1;
  }
  if (g.oh < 1 || g.ow < 1) return invalid_input("prune-structured: Conv '" + conv.name + "' has an empty output");
  return g;
}

Result<std::map<std::string, analysis::LayerInputStats>> collect_consumer_stats(
    const ir::Model& model, const calibration::CalibrationSet& calib, const std::vector<const ChannelGroup*>& groups,
    int64_t max_rows) {
  std::map<std::string, std::vector<Watch*>> watchers;
  std::map<std::string, Watch> watches;  // by consumer node label
  for (const ChannelGroup* g : groups)
    for (const ChannelConsumer& c : g->consumers) {
      const ir::Node& node = model.graph.nodes[c.node];
      Watch& w = watches[node_label(model.graph, c.node)];
      w.consumer = &c;
      w.node = &node;
      w.weight = model.graph.find_initializer(c.weight)->shape();
      w.stats.dim = static_cast<int64_t>(units_of(*g, c.channels).size()) * c.spatial;
      w.stats.xtx = std::make_unique<quant::HessianAccumulator>(w.stats.dim);
      w.stats.sum.assign(size_t(w.stats.dim), 0.0);
      w.stats.abs_sum.assign(size_t(w.stats.dim), 0.0);
      watchers[c.input].push_back(&w);
    }
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& value) -> Status {
    auto it = watchers.find(name);
    if (it == watchers.end()) return Status::Ok();
    for (Watch* w : it->second)
      if (w->stats.rows < max_rows) EMBER_TRY(observe(*w, value, max_rows));
    return Status::Ok();
  };
  for (int64_t b = 0; b < calib.num_batches(); ++b) {
    bool done = true;
    for (const auto& [name, w] : watches) done = done && w.stats.rows >= max_rows;
    if (done) break;
    const auto feeds = calib.batch(b);
    for (const auto& [name, t] : feeds) EMBER_TRY(observer(name, t));
    auto run = interp->run(feeds, observer);
    if (!run.ok()) return run.status().with_context("prune-structured: calibration batch " + std::to_string(b));
  }
  quant::HessianAccumulator::release_scratch();
  std::map<std::string, analysis::LayerInputStats> out;
  for (auto& [name, w] : watches) {
    if (w.stats.rows == 0) return invalid_input("prune-structured: the calibration run never reached consumer '" + name + "'");
    out.emplace(name, std::move(w.stats));
  }
  return out;
}

}  // namespace ember::passes::prune
