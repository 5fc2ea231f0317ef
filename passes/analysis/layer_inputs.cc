#include "passes/analysis/layer_inputs.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "calibration/dataset.h"
#include "passes/analysis/layer_model.h"
#include "runtime/interpreter.h"

namespace ember::passes::analysis {
namespace {

// Deterministic row selection: a hash of the row's running index, so the kept rows do not
// line up with sequence positions (a fixed stride would always keep the same positions).
bool keep_row(uint64_t index, uint64_t stride) {
  uint64_t h = index * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h % stride == 0;
}

struct Watch {
  LayerInputStats stats;
  int64_t batch_rows = 0;  // rows in the first inference
  uint64_t stride = 1;     // keep one row in `stride` for X^T X
  uint64_t seen = 0;       // rows seen so far
  std::vector<float> kept;
};

}  // namespace

std::vector<float> LayerInputStats::mean_abs() const {
  std::vector<float> m(abs_sum.size(), 0.0f);
  if (rows > 0)
    for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(abs_sum[i] / static_cast<double>(rows));
  return m;
}

std::vector<double> LayerInputStats::mean() const {
  std::vector<double> m(sum.size(), 0.0);
  if (rows > 0)
    for (size_t i = 0; i < m.size(); ++i) m[i] = sum[i] / static_cast<double>(rows);
  return m;
}

Result<std::map<std::string, LayerInputStats>> collect_layer_inputs(const ir::Model& model,
                                                                    const calibration::CalibrationSet& calib,
                                                                    const std::vector<LayerInputRequest>& requests,
                                                                    int64_t max_rows, bool mean_abs, int64_t batch_rows) {
  std::unordered_map<std::string, Watch> watches;
  for (const auto& r : requests) {
    Watch& w = watches[r.value];
    w.stats.dim = r.dim;
    w.stats.xtx = std::make_unique<HessianAccumulator>(r.dim);
    if (mean_abs) w.stats.abs_sum.assign(static_cast<size_t>(r.dim), 0.0);
    if (mean_abs) w.stats.sum.assign(static_cast<size_t>(r.dim), 0.0);
  }
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  const int64_t batches = calib.num_batches();
  const int64_t cap = std::max<int64_t>(max_rows, 1);
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& value) -> Status {
    auto it = watches.find(name);
    if (it == watches.end()) return Status::Ok();
    Watch& w = it->second;
    const int64_t dim = w.stats.dim;
    if (value.dtype() != DType::kF32 || value.rank() < 1 || value.dim(value.rank() - 1) != dim)
      return Status::Ok();  // not the layout the layer reads (e.g. a broadcast); leave it
    const int64_t rows = value.numel() / dim;
    const float* x = value.data<float>();
    if (w.batch_rows == 0) {
      w.batch_rows = rows;
      w.stride = static_cast<uint64_t>((rows + cap - 1) / cap);  // one batch alone may exceed the cap
    }
    w.kept.clear();
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * dim;
      if (mean_abs) {
        double* acc = w.stats.abs_sum.data();
        double* signed_acc = w.stats.sum.data();
        for (int64_t k = 0; k < dim; ++k) acc[k] += std::fabs(row[k]), signed_acc[k] += row[k];
      }
      if (keep_row(w.seen++, w.stride)) w.kept.insert(w.kept.end(), row, row + dim);
    }
    w.stats.rows += rows;
    w.stats.xtx->add(w.kept.data(), static_cast<int64_t>(w.kept.size()) / dim);
    return Status::Ok();
  };
  auto run_feeds = [&](const std::map<std::string, Tensor>& feeds, const std::string& what) -> Status {
    for (const auto& [name, t] : feeds) EMBER_TRY(observer(name, t));  // layers reading a graph input
    auto out = interp->run(feeds, observer);
    return out.ok() ? Status::Ok() : out.status().with_context(what);
  };
  // Inference units: calibration batches, or slices of `batch_rows` rows of them.
  if (batches == 0) return std::map<std::string, LayerInputStats>{};
  const int64_t chunk = batch_rows > 0 ? batch_rows : std::max<int64_t>(calib.batch_rows(0), 1);
  // The first unit shows how many rows (tokens) a unit gives; then only as many units run as
  // the row cap needs, evenly spaced over the set.
  EMBER_TRY(run_feeds(calib.batch(0, 0, chunk), "calibration batch 0"));
  int64_t per_unit = 1;
  for (const auto& [name, w] : watches) per_unit = std::max(per_unit, w.batch_rows);
  const int64_t units = batch_rows > 0 ? (calib.num_rows() + chunk - 1) / chunk : batches;
  const int64_t needed = std::min(units, (cap + per_unit - 1) / per_unit);
  for (auto& [name, w] : watches)
    w.stride = std::max<uint64_t>(1, static_cast<uint64_t>((w.batch_rows * needed + cap - 1) / cap));
  if (batch_rows <= 0) {
    for (int64_t i = 1; i < needed; ++i) EMBER_TRY(run_feeds(calib.batch(i * batches / needed), "calibration batch " + std::to_string(i * batches / needed)));
  } else {
    const int64_t stride = std::max<int64_t>(1, units / needed);
    int64_t unit = 0, ran = 1;
    for (int64_t b = 0; b < batches && ran < needed; ++b) {
      const int64_t rows = calib.batch_rows(b);
      for (int64_t start = 0; start < rows && ran < needed; start += chunk, ++unit) {
        if (unit == 0 || unit % stride != 0) continue;
        EMBER_TRY(run_feeds(calib.batch(b, start, std::min(chunk, rows - start)),
                            "calibration batch " + std::to_string(b) + " rows from " + std::to_string(start)));
        ++ran;
      }
    }
  }
  HessianAccumulator::release_scratch();
  std::map<std::string, LayerInputStats> result;
  for (auto& [name, w] : watches)
    if (w.stats.rows > 0) result.emplace(name, std::move(w.stats));
  return result;
}

Result<LayerInputAnalysis::Output> LayerInputAnalysis::compute(const ir::Model& model,
                                                               const calibration::CalibrationSet& set,
                                                               const Options& options,
                                                               const std::function<void(int64_t, int64_t)>& progress) {
  EMBER_ASSIGN_OR_RETURN(const LayerModel layers, build_layer_model(model.graph));
  std::vector<LayerInputRequest> requests;
  std::set<std::string> requested;
  for (const Layer& layer : layers.layers)
    for (const WeightUse& use : layer.uses)
      if (use.linear() && requested.insert(use.activation).second) requests.push_back({use.activation, layer.reduction});
  Output out;
  EMBER_ASSIGN_OR_RETURN(out.stats, collect_layer_inputs(model, set, requests, options.max_rows, /*mean_abs=*/true,
                                                         options.batch_rows));
  if (progress) progress(1, 1);
  return out;
}

}  // namespace ember::passes::analysis
