#include "passes/search/gptq_factor.h"

#include <algorithm>
#include <set>

#include "passes/analysis/layer_model.h"
#include "passes/quantize/gptq.h"
#include "passes/quantize/quant_math.h"
#include "passes/quantize/weight_quantizer.h"

namespace ember::passes::search {
namespace {

// The summed Hessian of a layer over its linear uses' inputs, when every one is observed.
std::optional<std::vector<float>> layer_hessian(const analysis::Layer& layer, const analysis::LayerInputAnalysis::Output& inputs) {
  if (!layer.all_uses_linear()) return std::nullopt;
  std::set<std::string> activations;
  for (const auto& u : layer.uses) activations.insert(u.activation);
  std::optional<quant::HessianAccumulator> sum;
  for (const auto& a : activations) {
    auto it = inputs.stats.find(a);
    if (it == inputs.stats.end() || it->second.dim != layer.reduction || it->second.xtx->samples() == 0) return std::nullopt;
    if (!sum) sum.emplace(layer.reduction);
    sum->merge(*it->second.xtx);
  }
  if (!sum) return std::nullopt;
  return sum->hessian();
}

// Relative output error of symmetric RTN without clipping, on the sampled channels that
// quantize-weights measures (weight_quantizer.cc).
double rtn_output_error(const analysis::Layer& layer, const std::vector<float>& w, int64_t block, bool symmetric,
                        const std::vector<float>& h) {
  quant::QuantFormat format;
  format.bits = 4;
  format.symmetric = symmetric;
  const quant::QuantizedMatrix q =
      quant::quantize_rtn(w.data(), layer.channels, layer.reduction, block, format, quant::ClipMode::kNone);
  const std::vector<int64_t> rows = quant::sample_rows(layer.channels, 128);
  std::vector<float> orig, diff;
  for (int64_t r : rows)
    for (int64_t c = 0; c < layer.reduction; ++c) {
      const float o = w[size_t(r * layer.reduction + c)];
      orig.push_back(o);
      diff.push_back(o - q.value(r, c));
    }
  const int64_t n = static_cast<int64_t>(rows.size());
  const double base = quant::hessian_quadratic(orig.data(), n, layer.reduction, h);
  return base > 0 ? quant::hessian_quadratic(diff.data(), n, layer.reduction, h) / base : 0;
}

}  // namespace

void gptq_error_ratios(std::map<std::tuple<std::string, int64_t, bool>, double>& ratios, const ir::Model& prepared,
                       const std::vector<SearchLayer>& layers, const analysis::LayerInputAnalysis::Output& inputs,
                       const std::vector<PassRecord>& passes) {
  auto model = analysis::build_layer_model_with_bodies(prepared.graph);
  if (!model.ok()) return;
  std::set<std::string> searched;
  for (const auto& l : layers) searched.insert(l.weight);
  for (const auto& p : passes) {
    const auto* q = dynamic_cast<const QuantizeWeightsResult*>(p.result.get());
    if (!q) continue;
    for (const auto& r : q->tensors) {
      if (r.method != "gptq" || r.output_error < 0 || r.bits != 4 || !searched.count(r.name)) continue;
      const analysis::Layer* layer = model->find(r.name);
      if (!layer) continue;
      const auto h = layer_hessian(*layer, inputs);
      if (!h) continue;
      const Tensor* weight = analysis::find_layer_weight(prepared.graph, r.name);  // a body's weight too
      if (!weight) continue;
      const std::vector<float> w = analysis::canonical_matrix(*layer, *weight);
      const int64_t block = r.block > 0 ? r.block : layer->reduction;
      const double rtn = rtn_output_error(*layer, w, block, r.symmetric, *h);
      if (rtn > 0) ratios[{r.name, block, r.symmetric}] = std::clamp(r.output_error / rtn, 0.02, 2.0);
    }
  }
}

}  // namespace ember::passes::search
