#include "passes/analysis/layer_inputs.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "calibration/dataset.h"
#include "passes/analysis/layer_model.h"
#include "runtime/interpreter.h"
#include "runtime/subgraph.h"

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
  int64_t batch_rows = 0;  // rows in the first inference (every iteration of a body)
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

struct LayerInputCollector::Watches {
  std::unordered_map<std::string, Watch> by_name;
};

LayerInputCollector::LayerInputCollector(const std::vector<LayerInputRequest>& requests, int64_t max_rows, bool mean_abs)
    : watches_(std::make_unique<Watches>()), cap_(std::max<int64_t>(max_rows, 1)), mean_abs_(mean_abs) {
  for (const auto& r : requests) {
    Watch& w = watches_->by_name[r.value];
    w.stats.dim = r.dim;
    w.stats.xtx = std::make_unique<HessianAccumulator>(r.dim);
    if (mean_abs) w.stats.abs_sum.assign(static_cast<size_t>(r.dim), 0.0);
    if (mean_abs) w.stats.sum.assign(static_cast<size_t>(r.dim), 0.0);
  }
}

LayerInputCollector::~LayerInputCollector() = default;
LayerInputCollector::LayerInputCollector(LayerInputCollector&&) noexcept = default;

Status LayerInputCollector::observe(const std::string& name, const Tensor& value) {
  auto it = watches_->by_name.find(name);
  if (it == watches_->by_name.end()) return Status::Ok();
  Watch& w = it->second;
  const int64_t dim = w.stats.dim;
  if (value.dtype() != DType::kF32 || value.rank() < 1 || value.dim(value.rank() - 1) != dim)
    return Status::Ok();  // not the layout the layer reads (e.g. a broadcast); leave it
  const int64_t rows = value.numel() / dim;
  const float* x = value.data<float>();
  if (w.batch_rows == 0) w.stride = static_cast<uint64_t>((rows + cap_ - 1) / cap_);  // one batch alone may exceed the cap
  // A value inside a Loop or Scan body is seen once per iteration: the unit's rows are the sum.
  if (!sized_) w.batch_rows += rows;
  w.kept.clear();
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * dim;
    if (mean_abs_) {
      double* acc = w.stats.abs_sum.data();
      double* signed_acc = w.stats.sum.data();
      for (int64_t k = 0; k < dim; ++k) acc[k] += std::fabs(row[k]), signed_acc[k] += row[k];
    }
    if (keep_row(w.seen++, w.stride)) w.kept.insert(w.kept.end(), row, row + dim);
  }
  w.stats.rows += rows;
  w.stats.xtx->add(w.kept.data(), static_cast<int64_t>(w.kept.size()) / dim);
  return Status::Ok();
}

int64_t LayerInputCollector::rows_per_unit() const {
  int64_t per_unit = 1;
  for (const auto& [name, w] : watches_->by_name) per_unit = std::max(per_unit, w.batch_rows);
  return per_unit;
}

void LayerInputCollector::set_units_needed(int64_t needed) {
  sized_ = true;
  for (auto& [name, w] : watches_->by_name)
    w.stride = std::max<uint64_t>(1, static_cast<uint64_t>((w.batch_rows * needed + cap_ - 1) / cap_));
}

std::map<std::string, LayerInputStats> LayerInputCollector::take() {
  std::map<std::string, LayerInputStats> result;
  for (auto& [name, w] : watches_->by_name)
    if (w.stats.rows > 0) result.emplace(name, std::move(w.stats));
  watches_->by_name.clear();
  return result;
}

namespace {
int64_t unit_rows(const calibration::CalibrationSet& calib, int64_t batch_rows) {
  return batch_rows > 0 ? batch_rows : std::max<int64_t>(calib.batch_rows(0), 1);
}
}  // namespace

int64_t calibration_unit_count(const calibration::CalibrationSet& calib, int64_t batch_rows) {
  const int64_t chunk = unit_rows(calib, batch_rows);
  return batch_rows > 0 ? (calib.num_rows() + chunk - 1) / chunk : calib.num_batches();
}

int64_t calibration_units_needed(const calibration::CalibrationSet& calib, int64_t batch_rows, int64_t max_rows,
                                 int64_t per_unit) {
  const int64_t cap = std::max<int64_t>(max_rows, 1);
  return std::min(calibration_unit_count(calib, batch_rows), (cap + per_unit - 1) / per_unit);
}

std::vector<CalibrationUnit> calibration_units(const calibration::CalibrationSet& calib, int64_t batch_rows, int64_t needed) {
  std::vector<CalibrationUnit> out;
  const int64_t batches = calib.num_batches();
  if (batches == 0) return out;
  const int64_t chunk = unit_rows(calib, batch_rows);
  out.push_back({0, 0, batch_rows > 0 ? chunk : -1});  // -1: the whole batch
  if (batch_rows <= 0) {
    for (int64_t i = 1; i < needed; ++i) out.push_back({i * batches / needed, 0, -1});
    return out;
  }
  const int64_t units = calibration_unit_count(calib, batch_rows);
  const int64_t stride = std::max<int64_t>(1, units / std::max<int64_t>(needed, 1));
  int64_t unit = 0, ran = 1;
  for (int64_t b = 0; b < batches && ran < needed; ++b) {
    const int64_t rows = calib.batch_rows(b);
    for (int64_t start = 0; start < rows && ran < needed; start += chunk, ++unit) {
      if (unit == 0 || unit % stride != 0) continue;
      out.push_back({b, start, std::min(chunk, rows - start)});
      ++ran;
    }
  }
  return out;
}

std::map<std::string, Tensor> unit_feeds(const calibration::CalibrationSet& calib, const CalibrationUnit& unit) {
  return unit.count < 0 ? calib.batch(unit.batch) : calib.batch(unit.batch, unit.start, unit.count);
}

std::string unit_name(const CalibrationUnit& unit) {
  return unit.count < 0 ? "calibration batch " + std::to_string(unit.batch)
                        : "calibration batch " + std::to_string(unit.batch) + " rows from " + std::to_string(unit.start);
}

Result<std::map<std::string, LayerInputStats>> collect_layer_inputs(const ir::Model& model,
                                                                    const calibration::CalibrationSet& calib,
                                                                    const std::vector<LayerInputRequest>& requests,
                                                                    int64_t max_rows, bool mean_abs, int64_t batch_rows) {
  LayerInputCollector collector(requests, max_rows, mean_abs);
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& value) {
    return collector.observe(name, value);
  };
  const runtime::BodyObservation in_bodies(observer);  // layers inside If / Loop / Scan bodies
  auto run_unit = [&](const CalibrationUnit& unit) -> Status {
    const std::map<std::string, Tensor> feeds = unit_feeds(calib, unit);
    for (const auto& [name, t] : feeds) EMBER_TRY(observer(name, t));  // layers reading a graph input
    auto out = interp->run(feeds, observer);
    return out.ok() ? Status::Ok() : out.status().with_context(unit_name(unit));
  };
  if (calib.num_batches() == 0) return std::map<std::string, LayerInputStats>{};
  // The first unit shows how many rows (tokens) a unit gives; then only as many units run as
  // the row cap needs, evenly spaced over the set.
  const CalibrationUnit first{0, 0, batch_rows > 0 ? batch_rows : -1};
  EMBER_TRY(run_unit(first));
  const int64_t needed = calibration_units_needed(calib, batch_rows, max_rows, collector.rows_per_unit());
  collector.set_units_needed(needed);
  const std::vector<CalibrationUnit> units = calibration_units(calib, batch_rows, needed);
  for (size_t i = 1; i < units.size(); ++i) EMBER_TRY(run_unit(units[i]));
  HessianAccumulator::release_scratch();
  return collector.take();
}

Result<LayerInputAnalysis::Output> LayerInputAnalysis::compute(const ir::Model& model,
                                                               const calibration::CalibrationSet& set,
                                                               const Options& options,
                                                               const std::function<void(int64_t, int64_t)>& progress) {
  EMBER_ASSIGN_OR_RETURN(const LayerModel layers, build_layer_model_with_bodies(model.graph));
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
