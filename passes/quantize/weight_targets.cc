#include "passes/quantize/weight_targets.h"

namespace ember::passes::quant {

TargetScan find_weight_targets(const ir::Graph& graph, const TargetFilter& filter) {
  TargetScan scan;
  auto layers = analysis::build_layer_model(graph);
  if (!layers.ok()) return scan;  // only a negative head count fails, and none is given
  for (Layer& layer : layers->layers) {
    std::string reason;
    for (const WeightUse& u : layer.uses)
      if (!filter.ops.count(analysis::use_op(u.kind))) reason = std::string(analysis::use_op(u.kind)) + " is not in ops";
    if (reason.empty()) reason = layer.blocker;
    const int64_t numel = shape_numel(layer.shape);
    if (reason.empty() && numel < filter.min_size)
      reason = "it has " + std::to_string(numel) + " elements, fewer than min-size";
    if (reason.empty() && filter.include) {
      bool hit = std::regex_search(layer.weight, *filter.include);
      for (const auto& u : layer.uses) hit = hit || std::regex_search(graph.nodes[u.node].name, *filter.include);
      if (!hit) reason = "not matched by the include pattern";
    }
    if (reason.empty() && filter.exclude) {
      bool hit = std::regex_search(layer.weight, *filter.exclude);
      for (const auto& u : layer.uses) hit = hit || std::regex_search(graph.nodes[u.node].name, *filter.exclude);
      if (hit) reason = "excluded by the exclude pattern";
    }
    if (!reason.empty()) {
      scan.skipped.push_back({layer.weight, reason});
      continue;
    }
    scan.targets.push_back(std::move(layer));
  }
  return scan;
}

}  // namespace ember::passes::quant
