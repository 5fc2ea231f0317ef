#include "passes/report/manifest_search.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

namespace ember::passes {
namespace {

nlohmann::json finite(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json budget_json(const CompressResult& result) {
  const Candidate& chosen = result.candidates.at(result.chosen);
  const double room = std::fabs(result.quality_limit - result.fp32_quality);
  const bool lower = result.quality_limit >= result.fp32_quality;  // bits per byte: the limit lies above
  const double used = lower ? chosen.quality - result.fp32_quality : result.fp32_quality - chosen.quality;
  return {{"metric", result.metric}, {"allowed", result.budget}, {"reference", result.fp32_quality},
          {"limit", result.quality_limit}, {"achieved", chosen.quality}, {"used_share", room > 0 ? finite(used / room) : nlohmann::json(nullptr)}};
}

nlohmann::json layers_json(const SearchSummary& s) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : s.layers) {
    nlohmann::json sensitivity = nlohmann::json::object();
    for (const auto& [action, loss] : l.sensitivity) sensitivity[action] = finite(loss);
    layers.push_back({{"name", l.node}, {"weight", l.weight}, {"op", l.op}, {"params", l.params}, {"stage", l.stage},
                      {"action", l.action}, {"bits_per_weight", finite(l.bits_per_weight)}, {"pruned_ratio", l.pruned_ratio},
                      {"sensitivity", sensitivity}, {"predicted_loss", finite(l.predicted_loss)},
                      {"measured_loss", l.measured_loss ? finite(*l.measured_loss) : nlohmann::json(nullptr)}});
  }
  return layers;
}

}  // namespace

std::string search_report_lines(const CompressResult& result) {
  const SearchSummary& s = result.search;
  if (!s.ran) return {};
  const Candidate& chosen = result.candidates.at(result.chosen);
  std::string r = s.target_kind == "none"
                      ? std::string("Search: no target, the smallest model within the budget")
                      : fmt::format("Search: target {} <= {:.6g}, achieved {:.6g}", s.target_kind, s.target_value,
                                    s.target_kind == "bits_per_weight" ? chosen.bits_per_weight : double(chosen.model_bytes));
  r += fmt::format("; {} candidates measured in {} stages; {:.3f} bits per weight over {} layers (",
                   result.candidates.size(), s.stages.size(), chosen.bits_per_weight, s.layers.size());
  std::map<std::string, int> actions;
  for (const auto& l : s.layers) ++actions[l.action];
  bool first = true;
  for (const auto& [action, count] : actions) {
    r += fmt::format("{}{} {}", first ? "" : ", ", count, action);
    first = false;
  }
  return r + "). Per layer: the manifest's `search` section.\n\n";
}

nlohmann::json search_section(const CompressResult& result) {
  const SearchSummary& s = result.search;
  if (!s.ran) return nullptr;
  const Candidate& chosen = result.candidates.at(result.chosen);
  nlohmann::json candidates = nlohmann::json::array();
  for (size_t i = 0; i < result.candidates.size(); ++i) {
    const Candidate& c = result.candidates[i];
    candidates.push_back({{"name", c.scheme}, {"model_bytes", c.model_bytes}, {"bits_per_weight", finite(c.bits_per_weight)},
                          {"quality", finite(c.quality)}, {"within_budget", c.within_budget}, {"within_target", c.within_target},
                          {"chosen", i == result.chosen}, {"pareto", c.pareto}});
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& st : s.stages) stages.push_back({{"name", st.name}, {"candidates", st.candidates}});
  const double achieved = s.target_kind == "bits_per_weight" ? chosen.bits_per_weight : double(chosen.model_bytes);
  return {{"target", {{"kind", s.target_kind}, {"value", finite(s.target_value)}, {"achieved", finite(achieved)}}},
          {"budget", budget_json(result)},
          {"cost_scale", {{"gptq_factor", finite(s.gptq_factor)}, {"metric_per_loss", finite(s.metric_per_loss)}, {"prune_factor", finite(s.prune_factor)}}},
          {"layers", layers_json(s)},
          {"candidates", candidates},
          {"stages", stages}};
}

}  // namespace ember::passes
