#include "passes/search/activation_cost.h"

#include <cmath>
#include <map>

#include "calibration/calibrator.h"
#include "passes/analysis/importance.h"

namespace ember::passes::search {
namespace {

bool allows_static(const SearchLayer& layer) {
  for (const auto& a : layer.allowed)
    if (a.static_activations) return true;
  return false;
}

// sum_cj W_cj^2 and sum_cj dW_cj^2 E[x_j^2] for INT8 per-channel symmetric RTN of `w` [C, K].
std::pair<double, double> weight_sums(const std::vector<float>& w, int64_t channels, int64_t reduction,
                                      const std::vector<float>& mean_square) {
  double power = 0, error = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const float* row = w.data() + c * reduction;
    float peak = 0;
    for (int64_t k = 0; k < reduction; ++k) peak = std::max(peak, std::fabs(row[k]));
    const double step = peak > 0 ? double(peak) / 127.0 : 1.0;
    for (int64_t k = 0; k < reduction; ++k) {
      const double v = row[k], dq = std::nearbyint(v / step) * step - v;
      power += v * v;
      error += dq * dq * double(mean_square[size_t(k)]);
    }
  }
  return {power, error};
}

}  // namespace

bool any_static_activations(const std::vector<SearchLayer>& layers) {
  for (const auto& l : layers)
    if (allows_static(l)) return true;
  return false;
}

Result<std::vector<double>> activation_error_ratios(const ir::Model& prepared, const calibration::CalibrationSet& calib,
                                                    const std::vector<SearchLayer>& layers,
                                                    const analysis::LayerInputAnalysis::Output& inputs) {
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerModel model, analysis::build_layer_model(prepared.graph));
  std::vector<const analysis::Layer*> found(layers.size(), nullptr);
  calibration::CalibratorOptions co;
  co.observer.method = calibration::CalibrationMethod::kPercentile;  // quantize-activations' default
  co.observer.percentile = 99.99;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!allows_static(layers[i])) continue;
    found[i] = model.find(layers[i].weight);
    if (found[i]) co.values.push_back(found[i]->input);
  }
  std::vector<double> rho(layers.size(), 0.0);
  if (co.values.empty()) return rho;
  EMBER_ASSIGN_OR_RETURN(const calibration::CalibrationResult ranges, calibration::calibrate_values(prepared, calib, co));
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!found[i]) continue;
    const analysis::Layer& l = *found[i];
    auto range = ranges.values.find(l.input);
    auto stats = inputs.stats.find(l.input);
    const Tensor* weight = prepared.graph.find_initializer(l.weight);
    if (range == ranges.values.end() || stats == inputs.stats.end() || !stats->second.xtx || !weight) continue;
    const std::vector<float> mean_square = stats->second.xtx->mean_square();
    if (int64_t(mean_square.size()) != l.reduction) continue;
    const auto [power, error] = weight_sums(analysis::canonical_matrix(l, *weight), l.channels, l.reduction, mean_square);
    const double step = (range->second.tensor.clip_hi - range->second.tensor.clip_lo) / 255.0;
    if (error > 0) rho[i] = step * step / 12.0 * power / error;
  }
  return rho;
}

void add_activation_losses(LossTable& loss, const std::vector<SearchLayer>& layers, const std::vector<double>& rho,
                           const std::vector<double>& second_order) {
  for (size_t i = 0; i < layers.size() && i < loss.size() && i < rho.size(); ++i)
    for (size_t a = 0; a < layers[i].allowed.size() && a < loss[i].size(); ++a)
      if (layers[i].allowed[a].static_activations)
        loss[i][a] += rho[i] * (i < second_order.size() && second_order[i] >= 0 ? second_order[i] : loss[i][a]);
}

std::vector<double> int8_second_order(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance) {
  std::map<std::string, double> by_weight;
  for (const auto& t : importance.tensors)
    for (const auto& c : t.candidates)
      if (c.precision == "int8" && c.block == 0) by_weight[t.name] = c.noise / 2;
  std::vector<double> out(layers.size(), -1.0);
  for (size_t i = 0; i < layers.size(); ++i) {
    auto it = by_weight.find(layers[i].weight);
    if (it != by_weight.end()) out[i] = it->second;
  }
  return out;
}

Status add_measured_activation_losses(LossTable& loss, const ir::Model& prepared, const std::vector<SearchLayer>& layers,
                                      const analysis::ImportanceReport& importance, AnalysisManager& analyses) {
  if (!any_static_activations(layers)) return Status::Ok();
  if (!analyses.calib()) return invalid_input("search: static INT8 activations need a calibration set");
  EMBER_ASSIGN_OR_RETURN(const auto inputs, analyses.get<analysis::LayerInputAnalysis>(prepared, {}));
  EMBER_ASSIGN_OR_RETURN(const std::vector<double> rho, activation_error_ratios(prepared, *analyses.calib(), layers, *inputs));
  add_activation_losses(loss, layers, rho, int8_second_order(layers, importance));
  return Status::Ok();
}

}  // namespace ember::passes::search
