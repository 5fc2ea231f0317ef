#include "passes/prune/probe_calibration.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "calibration/fidelity.h"
#include "runtime/interpreter.h"

namespace ember::passes::prune {
namespace {

// The first output of `model` on the first `batches` batches, as floats.
Result<std::vector<std::vector<float>>> first_outputs(const ir::Model& model, const calibration::CalibrationSet& calib,
                                                      int64_t batches) {
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  std::vector<std::vector<float>> out;
  for (int64_t b = 0; b < std::min<int64_t>(batches, calib.num_batches()); ++b) {
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> values, interp->run(calib.batch(b)));
    if (values.empty() || values[0].dtype() != DType::kF32 || values[0].rank() < 1)
      return invalid_input("prune-structured: the probe needs a float first output (logits)");
    EMBER_ASSIGN_OR_RETURN(std::vector<float> floats, values[0].to_floats());
    out.push_back(std::move(floats));
  }
  return out;
}

double mean_kl(const std::vector<std::vector<float>>& ref, const std::vector<std::vector<float>>& got, int64_t width) {
  double sum = 0;
  int64_t rows = 0;
  for (size_t b = 0; b < ref.size(); ++b)
    for (size_t r = 0; r + size_t(width) <= ref[b].size(); r += size_t(width), ++rows)
      sum += calibration::row_kl(ref[b].data() + r, got[b].data() + r, width);
  return rows == 0 ? 0.0 : sum / static_cast<double>(rows);
}

// `model` with the consumer's input columns `channels` set to zero.
ir::Model masked(const ir::Model& model, const analysis::Layer& consumer, const std::vector<int64_t>& channels) {
  ir::Model copy = model;  // initializers are replaced, never written through
  std::vector<float> w = analysis::canonical_matrix(consumer, *copy.graph.find_initializer(consumer.weight));
  for (int64_t r = 0; r < consumer.channels; ++r)
    for (int64_t c : channels) w[size_t(r * consumer.reduction + c)] = 0.0f;
  copy.graph.set_initializer(consumer.weight, analysis::from_canonical(consumer, w));
  return copy;
}

}  // namespace

Result<ProbeMeter> ProbeMeter::create(const ir::Model& model, const calibration::CalibrationSet& calib, int64_t batches) {
  ProbeMeter m;
  m.model_ = &model, m.calib_ = &calib, m.batches_ = batches;
  EMBER_ASSIGN_OR_RETURN(m.reference_, first_outputs(model, calib, batches));
  if (m.reference_.empty()) return invalid_input("prune-structured: the probe needs calibration rows");
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> out, interp->run(calib.batch(0)));
  m.width_ = out[0].dim(out[0].rank() - 1);
  return m;
}

Result<double> ProbeMeter::masked_kl(const std::vector<ProbeLayer>& layers, const std::vector<std::vector<int64_t>>& removed) const {
  ir::Model probe = *model_;
  for (size_t l = 0; l < layers.size(); ++l) {
    std::vector<int64_t> channels;
    for (int64_t u : removed[l]) channels.insert(channels.end(), layers[l].channels[size_t(u)].begin(), layers[l].channels[size_t(u)].end());
    if (!channels.empty()) probe = masked(probe, layers[l].consumer, channels);
  }
  EMBER_ASSIGN_OR_RETURN(const auto probed, first_outputs(probe, *calib_, batches_));
  return mean_kl(reference_, probed, width_);
}

Result<ProbeResult> calibrate_scores_by_probe(const ir::Model& model, const calibration::CalibrationSet& calib,
                                              std::vector<ProbeLayer>& layers, const std::vector<std::vector<size_t>>& probes,
                                              double q, int64_t batches) {
  EMBER_ASSIGN_OR_RETURN(const ProbeMeter meter, ProbeMeter::create(model, calib, batches));
  ProbeResult result;
  for (const std::vector<size_t>& set : probes) {
    std::vector<std::tuple<double, size_t, int64_t>> order;  // score, layer, unit
    int64_t total = 0;
    for (size_t l : set) {
      const std::vector<double>& s = *layers[l].scores;
      total += static_cast<int64_t>(s.size());
      for (size_t u = 0; u < s.size(); ++u) order.emplace_back(s[u], l, static_cast<int64_t>(u));
    }
    std::sort(order.begin(), order.end());
    const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::llround(q * static_cast<double>(total))));
    std::vector<std::vector<int64_t>> removed(layers.size());
    double predicted = 0;
    int64_t count = 0;
    for (const auto& [score, l, u] : order) {
      if (count == k) break;
      if (static_cast<int64_t>(removed[l].size()) + 1 >= static_cast<int64_t>(layers[l].scores->size())) continue;  // keep one
      removed[l].push_back(u);
      ++count, predicted += score;
    }
    EMBER_ASSIGN_OR_RETURN(const double loss, meter.masked_kl(layers, removed));
    const double factor = loss / std::max(predicted, 1e-30);
    for (size_t l : set)
      for (double& v : *layers[l].scores) v *= factor;
    result.loss.push_back(loss);
    result.factor.push_back(factor);
  }
  return result;
}

}  // namespace ember::passes::prune
