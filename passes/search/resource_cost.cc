#include "passes/search/resource_cost.h"

#include <algorithm>
#include <set>

#include "runtime/energy_model.h"

namespace ember::passes::search {
namespace {

// What one inference of a layer reads and computes, as the manifest's estimate counts it
// (passes/report/layer_stats.h): every use of the weight that describe_weight_schemes finds
// reads the whole weight and does its multiply-adds, except a Gather, which reads the rows it
// returns (a tied embedding and head counts both).
struct LayerWork {
  double read_share = 0;  // weight bytes read per inference / weight bytes
  double macs = 0;
};

LayerWork layer_work(const LayerTimer& timer, const SearchLayer& layer, const ModelStats& fp32) {
  LayerWork w;
  for (const auto& l : fp32.layers) {
    if (l.scheme.weight != layer.weight) continue;
    if (l.scheme.layer_op != "Gather") {
      w.read_share += 1;
      w.macs += l.macs;
      continue;
    }
    auto out = timer.values().find(l.scheme.layer_output);
    if (out != timer.values().end()) w.read_share += double(out->second.numel()) / double(std::max<int64_t>(1, layer.params));
  }
  return w;
}

double layer_joules(const SearchLayer& layer, const LayerWork& w, const LayerAction& a) {
  const runtime::EnergyModel m;
  const bool fp32 = a.kind == LayerAction::Kind::kKeepFloat || a.kind == LayerAction::Kind::kPrune;
  const double macs = w.macs * kept_share(layer, a);  // pruned units do no work
  return (double(action_bytes(layer, a)) * w.read_share * m.dram_pj_per_byte + macs * (fp32 ? m.fp32_mac_pj : m.int8_mac_pj)) * 1e-12;
}

std::string feeds_text(const std::map<std::string, Tensor>& feeds) {
  std::string out;
  for (const auto& [name, t] : feeds) {
    out += (out.empty() ? "" : ",") + name + ":";
    for (size_t d = 0; d < t.shape().size(); ++d) out += (d ? "x" : "") + std::to_string(t.shape()[d]);
  }
  return out;
}

}  // namespace

double ResourceCosts::action_cost(const std::vector<SearchLayer>& layers, size_t i, const LayerAction& action) const {
  const auto& allowed = layers[i].allowed;
  for (size_t a = 0; a < allowed.size(); ++a)
    if (allowed[a] == action) return cost[i][a];
  return cost[i][0];  // allowed[0] is keep-FP32
}

double ResourceCosts::predicted(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& actions) const {
  double sum = fixed;
  for (size_t i = 0; i < layers.size() && i < actions.size(); ++i) sum += action_cost(layers, i, actions[i]);
  return sum;
}

Result<ResourceCosts> energy_costs(const LayerTimer& timer, const std::vector<SearchLayer>& layers, const ModelStats& fp32) {
  ResourceCosts out;
  double fp32_layers = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerWork work = layer_work(timer, layers[i], fp32);
    std::vector<double> row;
    for (const auto& a : layers[i].allowed) row.push_back(layer_joules(layers[i], work, a));
    fp32_layers += row.front();
    out.cost.push_back(std::move(row));
  }
  out.fixed = std::max(0.0, fp32.fp32_microjoules * 1e-6 - fp32_layers);
  return out;
}

// Times the missing entries: one run of the whole model per precision, every layer that allows
// it taking it (the others FP32); layers of one key (one shape) share the median of their times.
Status measure_missing(const LayerTimer& timer, const std::vector<SearchLayer>& layers, const std::string& whole_key,
                       LatencyTable& table, const std::function<void(const std::string&)>& on_stage) {
  std::set<std::string> precisions;
  for (size_t i = 0; i < layers.size(); ++i)
    for (const auto& a : layers[i].allowed)
      if (a.kind != LayerAction::Kind::kPrune && !table.entries().count(timer.key(i, a))) precisions.insert(kernel_precision(a));
  if (!table.entries().count(whole_key)) precisions.insert("fp32");
  std::map<std::string, std::vector<double>> samples;
  for (const std::string& p : precisions) {
    std::vector<LayerAction> actions(layers.size());
    for (size_t i = 0; i < layers.size(); ++i)
      for (const auto& a : layers[i].allowed)
        if (a.kind != LayerAction::Kind::kPrune && kernel_precision(a) == p) actions[i] = a;
    if (on_stage) on_stage("timing every layer as " + p + " inside the model (latency table)");
    EMBER_ASSIGN_OR_RETURN(const LayerTimer::InContext times, timer.time_in_context(actions));
    for (size_t i = 0; i < layers.size(); ++i)
      if (kernel_precision(actions[i]) == p) samples[timer.key(i, actions[i])].push_back(times.layer_seconds[i]);
    if (p == "fp32" && !table.entries().count(whole_key)) table.add(whole_key, times.outside_seconds);
  }
  for (auto& [key, values] : samples) {
    if (table.entries().count(key)) continue;
    std::sort(values.begin(), values.end());
    table.add(key, values[values.size() / 2]);
  }
  return Status::Ok();
}

Result<ResourceCosts> latency_costs(const LayerTimer& timer, const std::string& model_sha256,
                                    const std::map<std::string, Tensor>& feeds, const std::vector<SearchLayer>& layers,
                                    LatencyTable& table, const std::function<void(const std::string&)>& on_stage) {
  const std::string whole_key = timer.machine() + " | model sha256:" + model_sha256 + " (" + feeds_text(feeds) + ") | outside the layers";
  EMBER_TRY(measure_missing(timer, layers, whole_key, table, on_stage));
  ResourceCosts out;
  auto lookup = [&](const std::string& key) -> Result<double> {
    auto seconds = table.find(key);
    if (!seconds) return internal_error("latency table: no entry '" + key + "' after timing");
    return out.entries[key] = *seconds;
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<double> row;
    for (const auto& a : layers[i].allowed) {
      if (a.kind == LayerAction::Kind::kPrune) {
        row.push_back(row.front() * kept_share(layers[i], a));  // allowed[0] is FP32, looked up first
        continue;
      }
      EMBER_ASSIGN_OR_RETURN(const double seconds, lookup(timer.key(i, a)));
      row.push_back(seconds * kept_share(layers[i], a));  // a pruned precision: its kernel on fewer rows or columns
    }
    out.cost.push_back(std::move(row));
  }
  EMBER_ASSIGN_OR_RETURN(out.fixed, lookup(whole_key));
  return out;
}

}  // namespace ember::passes::search
