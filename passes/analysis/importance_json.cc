#include "passes/analysis/importance_json.h"

#include <cmath>

namespace ember::passes::analysis {
namespace {

// Scores are non-negative by construction; rounding noise of a float sum could give -0.
double score(double v) { return std::isfinite(v) && v > 0 ? v : 0.0; }

double finite(double v) { return std::isfinite(v) ? v : 0.0; }

nlohmann::json scores(const std::vector<double>& values) {
  nlohmann::json a = nlohmann::json::array();
  for (double v : values) a.push_back(score(v));
  return a;
}

}  // namespace

nlohmann::json importance_to_json(const ImportanceReport& report, const std::string& model_path) {
  nlohmann::json j;
  j["format"] = "ember-importance";
  j["version"] = 1;
  j["model"] = model_path;
  j["calibration"] = {{"source", report.calibration_source},
                      {"hash", report.calibration_hash},
                      {"rows", report.rows},
                      {"batches", report.batches},
                      {"batch_size", report.batch_size}};
  j["loss"] = {{"kind", report.loss}, {"unit", report.loss_unit}, {"mean", score(report.mean_loss)}};
  j["gradient_products"] = report.gradient_products;
  j["timing"] = {{"seconds", report.seconds},
                 {"forward_seconds", report.forward_seconds},
                 {"backward_seconds", report.backward_seconds},
                 {"peak_saved_activation_bytes", report.peak_saved_activation_bytes},
                 {"gradient_path_nodes", report.gradient_path_nodes}};
  if (!report.gradient_cuts.empty() || !report.unscored_weights.empty()) {
    nlohmann::json cuts = nlohmann::json::array();
    for (const auto& c : report.gradient_cuts) cuts.push_back({{"node", c.node}, {"op", c.op_type}, {"weights_cut_off", c.weights}});
    j["gradient_cuts"] = cuts;
    j["unscored_weights"] = report.unscored_weights;
  }
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : report.tensors) {
    nlohmann::json e = {{"name", t.name},
                        {"node", t.node},
                        {"shape", t.shape},
                        {"taylor", score(t.taylor)},
                        {"fisher_sum", score(t.fisher_sum)},
                        {"fisher_removal", score(t.fisher_removal)}};
    if (!t.op.empty()) e["layer"] = {{"op", t.op}, {"node", t.layer_node}};
    if (!t.candidates.empty()) {
      nlohmann::json c = nlohmann::json::array();
      for (const auto& cand : t.candidates)
        c.push_back({{"precision", cand.precision},
                     {"block", cand.block},
                     {"noise", score(cand.noise)},
                     {"first_order", finite(cand.first_order)},
                     {"predicted_loss_increase", finite(cand.predicted_loss_increase)}});
      e["candidates"] = c;
    }
    if (t.groups.kind != GroupKind::kNone && !t.groups.taylor.empty())
      e["groups"] = {{"kind", group_kind_name(t.groups.kind)},
                     {"count", t.groups.taylor.size()},
                     {"taylor", scores(t.groups.taylor)},
                     {"fisher", scores(t.groups.fisher)}};
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  nlohmann::json attention = nlohmann::json::array();
  for (const auto& h : report.heads) {
    nlohmann::json projections = nlohmann::json::array();
    for (const auto& s : h.block.slices) projections.push_back({{"weight", s.weight}, {"offset", s.offset}});
    attention.push_back({{"input", h.block.input},
                         {"heads", h.block.heads},
                         {"head_dim", h.block.head_dim},
                         {"projections", projections},
                         {"taylor", scores(h.taylor)},
                         {"fisher", scores(h.fisher)}});
  }
  j["attention"] = std::move(attention);
  return j;
}

}  // namespace ember::passes::analysis
