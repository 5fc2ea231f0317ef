// The three plots of report.html, as inline SVG, from rows the page extracted from the
// manifest (report_html.cc):
//   - per-layer sensitivity: the predicted loss of each action on a log scale, the chosen
//     action ringed, and a strip under the plot coloured by the precision or pruning chosen;
//   - the size-vs-quality Pareto front of the candidates, the chosen one marked, the budget's
//     quality limit dashed;
//   - a histogram of bits per weight over parameters (each bar: the share of all parameters).
// Names are escaped and shown in <title> tooltips; layers are numbered on the axis.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ember::passes {

struct ReportLayer {
  std::string name, weight, op, stage, action;
  double params = 0;
  std::optional<double> bits_per_weight, pruned_ratio, predicted_loss, measured_loss;
  std::map<std::string, double> sensitivity;  // action -> predicted loss increase
};

struct ReportCandidate {
  std::string name;
  std::optional<double> model_bytes, bits_per_weight, quality;
  bool within_budget = false, chosen = false, pareto = false;
  std::optional<bool> within_target;  // absent when the run had no target
};

// Empty when no layer has a sensitivity.
std::string sensitivity_svg(const std::vector<ReportLayer>& layers);
// Empty when no candidate has both a size and a quality. `quality_limit`: the budget's line.
std::string pareto_svg(const std::vector<ReportCandidate>& candidates, const std::string& metric,
                       std::optional<double> quality_limit);
// Empty when no layer has bits per weight and parameters.
std::string bits_histogram_svg(const std::vector<ReportLayer>& layers);

// Marks the candidates no other candidate beats on both size and quality.
void mark_pareto_front(std::vector<ReportCandidate>& candidates, bool higher_is_better);

}  // namespace ember::passes
