#include "passes/quantize/layer_inputs.h"

#include <cmath>
#include <unordered_map>

#include "calibration/dataset.h"
#include "runtime/interpreter.h"

namespace ember::passes::quant {
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
  uint64_t stride = 0;  // 0 until the first batch shows the row count
  uint64_t seen = 0;    // rows seen so far
  std::vector<float> kept;
};

}  // namespace

std::vector<float> LayerInputStats::mean_abs() const {
  std::vector<float> m(abs_sum.size(), 0.0f);
  if (rows > 0)
    for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(abs_sum[i] / static_cast<double>(rows));
  return m;
}

Result<std::map<std::string, LayerInputStats>> collect_layer_inputs(const ir::Model& model,
                                                                    const calibration::CalibrationSet& calib,
                                                                    const std::vector<LayerInputRequest>& requests,
                                                                    int64_t max_rows) {
  std::unordered_map<std::string, Watch> watches;
  for (const auto& r : requests) {
    Watch& w = watches[r.value];
    w.stats.dim = r.dim;
    w.stats.xtx = std::make_unique<HessianAccumulator>(r.dim);
    w.stats.abs_sum.assign(static_cast<size_t>(r.dim), 0.0);
  }
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  const int64_t batches = calib.num_batches();
  const uint64_t cap = static_cast<uint64_t>(std::max<int64_t>(max_rows, 1));
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& value) -> Status {
    auto it = watches.find(name);
    if (it == watches.end()) return Status::Ok();
    Watch& w = it->second;
    const int64_t dim = w.stats.dim;
    if (value.dtype() != DType::kF32 || value.rank() < 1 || value.dim(value.rank() - 1) != dim)
      return Status::Ok();  // not the layout the layer reads (e.g. a broadcast); leave it
    const int64_t rows = value.numel() / dim;
    const float* x = value.data<float>();
    if (w.stride == 0) w.stride = std::max<uint64_t>(1, (uint64_t(rows) * uint64_t(batches) + cap - 1) / cap);
    w.kept.clear();
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * dim;
      double* acc = w.stats.abs_sum.data();
      for (int64_t k = 0; k < dim; ++k) acc[k] += std::fabs(row[k]);
      if (keep_row(w.seen++, w.stride)) w.kept.insert(w.kept.end(), row, row + dim);
    }
    w.stats.rows += rows;
    w.stats.xtx->add(w.kept.data(), static_cast<int64_t>(w.kept.size()) / dim);
    return Status::Ok();
  };
  for (int64_t b = 0; b < batches; ++b) {
    const std::map<std::string, Tensor> feeds = calib.batch(b);
    for (const auto& [name, t] : feeds) EMBER_TRY(observer(name, t));  // layers reading a graph input
    auto out = interp->run(feeds, observer);
    if (!out.ok()) return out.status().with_context("calibration batch " + std::to_string(b));
  }
  std::map<std::string, LayerInputStats> result;
  for (auto& [name, w] : watches)
    if (w.stats.rows > 0) result.emplace(name, std::move(w.stats));
  return result;
}

}  // namespace ember::passes::quant
