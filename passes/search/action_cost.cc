#include "passes/search/action_cost.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "passes/analysis/layer_model.h"
#include "passes/quantize/quant_math.h"

namespace ember::passes::search {
namespace {

// Mean squared RTN error of the layer's canonical matrix at `bits` and `group` (0 = per channel).
double rtn_mse(const std::vector<float>& w, const SearchLayer& layer, int bits, int64_t block, bool symmetric = true) {
  quant::QuantFormat format;
  format.bits = bits;
  format.symmetric = symmetric;
  const int64_t group = block > 0 ? block : layer.reduction;
  const quant::QuantizedMatrix q =
      quant::quantize_rtn(w.data(), layer.channels, layer.reduction, group, format, quant::ClipMode::kNone);
  double sum = 0;
  for (int64_t r = 0; r < layer.channels; ++r)
    for (int64_t c = 0; c < layer.reduction; ++c) {
      const double d = double(w[size_t(r * layer.reduction + c)]) - q.value(r, c);
      sum += d * d;
    }
  return sum / double(std::max<int64_t>(1, layer.params));
}

struct Known {
  double int8 = -1, b32 = -1, b128 = -1;
};

Known known_candidates(const analysis::TensorImportance& t) {
  Known k;
  for (const auto& c : t.candidates) {
    if (c.precision == "int8" && c.block == 0) k.int8 = c.predicted_loss_increase;
    if (c.precision == "int4" && c.block == 32) k.b32 = c.predicted_loss_increase;
    if (c.precision == "int4" && c.block == 128) k.b128 = c.predicted_loss_increase;
  }
  return k;
}

// RTN predictions of one layer for every allowed action.
std::vector<double> layer_losses(const SearchLayer& layer, const analysis::TensorImportance* t,
                                 const std::vector<float>& w) {
  const Known k = t ? known_candidates(*t) : Known{};
  const double fisher = t ? t->fisher_sum : double(layer.params);  // no importance: every weight counts alike
  std::map<int64_t, double> mse;  // block (0 = int8 per channel) -> error, computed when needed
  auto error = [&](int bits, int64_t block) {
    const int64_t key = bits == 8 ? -1 - block : block;
    auto it = mse.find(key);
    return it != mse.end() ? it->second : (mse[key] = rtn_mse(w, layer, bits, block));
  };
  auto from_fisher = [&](int bits, int64_t block) { return 0.5 * fisher * error(bits, block); };
  std::vector<double> out;
  for (const auto& a : layer.allowed) {
    double loss = 0;
    if (a.kind == LayerAction::Kind::kInt8) {
      const bool have = t && !t->candidates.empty();
      loss = a.block == 0 && have ? k.int8 : from_fisher(8, a.block);
    } else if (a.kind == LayerAction::Kind::kInt4) {
      const bool have = t && !t->candidates.empty();
      if (!a.symmetric) {
        loss = -1;  // below: the symmetric prediction times the error ratio
      } else if (have && a.block == 32) loss = k.b32;
      else if (have && a.block == 128) loss = k.b128;
      else if (have && a.block == 64) {
        const double e32 = error(4, 32), e64 = error(4, 64), e128 = error(4, 128);
        loss = e128 > e32 ? k.b32 + (k.b128 - k.b32) * (e64 - e32) / (e128 - e32) : k.b32;
      } else {
        loss = from_fisher(4, a.block);
      }
    }
    out.push_back(loss);
  }
  // Zero points: the symmetric prediction of the same block, scaled by the RTN error ratio.
  for (size_t a = 0; a < out.size(); ++a) {
    const LayerAction& act = layer.allowed[a];
    if (act.symmetric || act.kind == LayerAction::Kind::kKeepFloat) continue;
    LayerAction sym = act;
    sym.symmetric = true;
    const int bits = act.kind == LayerAction::Kind::kInt8 ? 8 : 4;
    double base = from_fisher(bits, act.block);
    for (size_t b = 0; b < out.size(); ++b)
      if (layer.allowed[b] == sym) base = out[b];
    const double e_sym = error(bits, act.block), e_asym = rtn_mse(w, layer, bits, act.block, false);
    out[a] = e_sym > 0 ? base * e_asym / e_sym : base;
  }
  for (auto& l : out) l = std::max(0.0, l);
  return out;
}

// More bits never predict more loss: each action's loss is at least that of every action
// with more bytes, the same symmetry and the same pruning (within the layer; all are RTN
// predictions of the precision here, pruning is added by the controller: prune_cost.h).
void make_monotone(const SearchLayer& layer, std::vector<double>& loss) {
  for (size_t a = 0; a < loss.size(); ++a)
    for (size_t b = 0; b < loss.size(); ++b)
      if (action_bytes(layer, layer.allowed[b]) > action_bytes(layer, layer.allowed[a]) &&
          layer.allowed[a].symmetric == layer.allowed[b].symmetric && prune_ratio(layer.allowed[a]) == prune_ratio(layer.allowed[b]))
        loss[a] = std::max(loss[a], loss[b]);
}

}  // namespace

double CostScale::gptq(const std::string& weight, int64_t block, bool symmetric) const {
  for (bool sym : {symmetric, !symmetric}) {
    auto it = layer_gptq.find({weight, block, sym});
    if (it != layer_gptq.end()) return gptq_factor * it->second;
  }
  // Nearest measured blocks below and above, either symmetry.
  std::optional<std::pair<int64_t, double>> below, above;
  for (const auto& [key, ratio] : layer_gptq) {
    if (std::get<0>(key) != weight) continue;
    const int64_t b = std::get<1>(key);
    if (b < block && (!below || b > below->first)) below = {{b, ratio}};
    if (b > block && (!above || b < above->first)) above = {{b, ratio}};
  }
  if (below && above) {
    const double t = std::log2(double(block) / double(below->first)) / std::log2(double(above->first) / double(below->first));
    return gptq_factor * std::exp((1 - t) * std::log(below->second) + t * std::log(above->second));
  }
  if (below || above) return gptq_factor * (below ? below->second : above->second);
  return gptq_factor;
}

Result<LossTable> predict_rtn_losses(const ir::Model& prepared, const std::vector<SearchLayer>& layers,
                                     const analysis::ImportanceReport& importance) {
  std::map<std::string, const analysis::TensorImportance*> by_name;
  for (const auto& t : importance.tensors) by_name[t.name] = &t;
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerModel model, analysis::build_layer_model_with_bodies(prepared.graph));
  LossTable table;
  for (const auto& layer : layers) {
    const analysis::Layer* l = model.find(layer.weight);
    const Tensor* weight = analysis::find_layer_weight(prepared.graph, layer.weight);  // a body's weight too
    if (!l || !weight) return internal_error("search: layer '" + layer.weight + "' vanished from the layer model");
    const std::vector<float> w = analysis::canonical_matrix(*l, *weight);
    auto it = by_name.find(layer.weight);
    std::vector<double> loss = layer_losses(layer, it == by_name.end() ? nullptr : it->second, w);
    make_monotone(layer, loss);
    table.push_back(std::move(loss));
  }
  return table;
}

LossTable scale_losses(const std::vector<SearchLayer>& layers, const LossTable& rtn, const CostScale& scale) {
  LossTable out = rtn;
  for (size_t i = 0; i < layers.size(); ++i)
    for (size_t a = 0; a < layers[i].allowed.size(); ++a)
      if (layers[i].allowed[a].method == "gptq" && layers[i].allowed[a].kind == LayerAction::Kind::kInt4)
        out[i][a] *= scale.gptq(layers[i].weight, layers[i].allowed[a].block, layers[i].allowed[a].symmetric);
  return out;
}

}  // namespace ember::passes::search
