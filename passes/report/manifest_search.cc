#include "passes/report/manifest_search.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

namespace ember::passes {
namespace {

nlohmann::json finite(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
nlohmann::json maybe(const std::optional<double>& v) { return v ? finite(*v) : nlohmann::json(nullptr); }

bool resource_target(const SearchSummary& s) { return s.target_kind == "energy_joules" || s.target_kind == "latency_seconds"; }

// The target's record: energy and latency targets add the predicted figures of the chosen and the
// FP32 model; a latency target also the end-to-end latency measured on this CPU (a timing, so
// the manifest of a latency target differs between runs; the model does not, given the same
// --latency-table) and the SHA-256 of the table entries the predictions came from.
nlohmann::json target_json(const SearchSummary& s, double achieved) {
  nlohmann::json t = {{"kind", s.target_kind}, {"value", finite(s.target_value)}, {"achieved", finite(achieved)}};
  if (!resource_target(s)) return t;
  t["predicted_energy_joules"] = maybe(s.predicted_energy_joules);
  t["fp32_energy_joules"] = maybe(s.fp32_energy_joules);
  if (s.target_kind != "latency_seconds") return t;
  t["predicted_latency_seconds"] = maybe(s.predicted_latency_seconds);
  t["fp32_predicted_latency_seconds"] = maybe(s.fp32_latency_seconds);
  t["measured_latency_seconds"] = maybe(s.measured_latency_seconds);
  t["fp32_measured_latency_seconds"] = maybe(s.fp32_measured_latency_seconds);
  t["latency_table"] = {{"sha256", s.latency_table_sha256}, {"entries", s.latency_entries}};
  return t;
}

double achieved_value(const SearchSummary& s, const Candidate& chosen) {
  if (s.target_kind == "bits_per_weight") return chosen.bits_per_weight;
  if (resource_target(s)) return s.target_achieved;
  return double(chosen.model_bytes);
}

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
    if (l.predicted_energy_joules) layers.back()["predicted_energy_joules"] = finite(*l.predicted_energy_joules);
    if (l.predicted_latency_seconds) layers.back()["predicted_latency_seconds"] = finite(*l.predicted_latency_seconds);
  }
  return layers;
}

// "; before it every attention head lost 75% of its channels (measured 25%: q1, 50%: q2, 75%: q3)".
std::string narrowing_line(const SearchSummary& s) {
  std::string r = s.head_width > 0 ? fmt::format("; before it every attention head lost {:.0f}% of its channels (measured", s.head_width * 100)
                                   : std::string("; no head narrowing fit a quarter of the budget (measured");
  for (size_t i = 0; i < s.narrowing.size(); ++i)
    r += fmt::format("{} {:.0f}%: {:.6g}{}", i ? "," : "", s.narrowing[i].ratio * 100, s.narrowing[i].quality,
                     s.narrowing[i].within_share ? "" : ", over the share");
  return r + ")";
}

nlohmann::json narrowing_json(const SearchSummary& s) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& t : s.narrowing) trials.push_back({{"ratio", t.ratio}, {"quality", finite(t.quality)}, {"within_share", t.within_share}});
  nlohmann::json j = {{"head_width", s.head_width}, {"trials", trials}};
  if (!s.narrowing_skipped.empty()) j["skipped"] = s.narrowing_skipped;
  return j;
}

}  // namespace

std::string search_report_lines(const CompressResult& result) {
  const SearchSummary& s = result.search;
  if (!s.ran) return {};
  const Candidate& chosen = result.candidates.at(result.chosen);
  std::string r = s.target_kind == "none"
                      ? std::string("Search: no target, the smallest model within the budget")
                      : fmt::format("Search: target {} <= {:.6g}, achieved {:.6g}", s.target_kind, s.target_value, achieved_value(s, chosen));
  if (resource_target(s) && s.predicted_energy_joules && s.fp32_energy_joules)
    r += fmt::format(" (predicted energy per inference {:.4g} mJ, FP32 {:.4g} mJ)", *s.predicted_energy_joules * 1e3, *s.fp32_energy_joules * 1e3);
  if (s.target_kind == "latency_seconds" && s.predicted_latency_seconds && s.measured_latency_seconds && s.fp32_measured_latency_seconds)
    r += fmt::format(" (predicted latency {:.3f} ms; measured end to end on this CPU {:.3f} ms, FP32 {:.3f} ms; latency table {} entries, sha256 {})",
                     *s.predicted_latency_seconds * 1e3, *s.measured_latency_seconds * 1e3, *s.fp32_measured_latency_seconds * 1e3,
                     s.latency_entries, s.latency_table_sha256.substr(0, 12));
  r += fmt::format("; {} candidates measured in {} stages; {:.3f} bits per weight over {} layers (",
                   result.candidates.size(), s.stages.size(), chosen.bits_per_weight, s.layers.size());
  std::map<std::string, int> actions;
  for (const auto& l : s.layers) ++actions[l.action];
  bool first = true;
  for (const auto& [action, count] : actions) {
    r += fmt::format("{}{} {}", first ? "" : ", ", count, action);
    first = false;
  }
  r += ")";
  if (!s.narrowing.empty()) r += narrowing_line(s);
  if (!s.narrowing_skipped.empty()) r += "; heads not narrowed: " + s.narrowing_skipped;
  return r + ". Per layer: the manifest's `search` section.\n\n";
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
    if (c.predicted_energy_joules && resource_target(s)) candidates.back()["predicted_energy_joules"] = finite(*c.predicted_energy_joules);
    if (c.predicted_latency_seconds) candidates.back()["predicted_latency_seconds"] = finite(*c.predicted_latency_seconds);
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& st : s.stages) stages.push_back({{"name", st.name}, {"candidates", st.candidates}});
  return {{"target", target_json(s, achieved_value(s, chosen))},
          {"budget", budget_json(result)},
          {"cost_scale", {{"gptq_factor", finite(s.gptq_factor)}, {"metric_per_loss", finite(s.metric_per_loss)}, {"prune_factor", finite(s.prune_factor)}}},
          {"layers", layers_json(s)},
          {"candidates", candidates},
          {"stages", stages},
          {"head_narrowing", narrowing_json(s)}};
}

}  // namespace ember::passes
