#include "passes/search/realize.h"

#include <map>
#include <optional>

namespace ember::passes::search {
namespace {

std::map<std::string, std::string> quantize_options(const LayerAction& a) {
  std::map<std::string, std::string> o = {{"bits", a.kind == LayerAction::Kind::kInt8 ? "8" : "4"},
                                          {"block", std::to_string(a.block)}, {"method", a.method}};
  if (!a.symmetric) o["sym"] = "false";
  return o;
}

// NODE:COUNT;... for the groups that remove units (pass option text).
Result<std::string> unit_counts_text(const std::map<std::string, int64_t>& counts) {
  std::string text;
  for (const auto& [node, units] : counts) {
    if (units == 0) continue;
    if (node.find_first_of(",};") != std::string::npos)
      return invalid_input("search: node '" + node + "' has ',', '}' or ';', which a prune-structured option cannot carry");
    text += (text.empty() ? "" : ";") + node + ":" + std::to_string(units);
  }
  return text;
}

// prune-structured for the FFNs and attention blocks whose layers chose a ratio: exact neuron
// counts per FFN (named by its first layer's node) and head counts per block (named by its first
// projection's node), scored and refitted as the search predicted (prune_cost.h).
Result<std::optional<PipelineEntry>> prune_entry(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& actions,
                                                 int64_t importance_rows) {
  std::map<std::string, int64_t> neurons, heads;  // group -> units removed
  for (size_t i = 0; i < layers.size(); ++i) {
    const int64_t units = pruned_units(layers[i], prune_ratio(actions[i]));
    if (prune_ratio(actions[i]) > 0 && layers[i].prune_group.empty())
      return invalid_input("search: layer '" + layers[i].weight + "' is not in a prunable FFN or attention block, it cannot take " + action_name(actions[i]));
    if (layers[i].prune_group.empty()) continue;
    auto [it, fresh] = (layers[i].prune_heads ? heads : neurons).emplace(layers[i].prune_group, units);
    if (!fresh && it->second != units)
      return internal_error("search: the layers of the group '" + layers[i].prune_group + "' chose different prune ratios");
  }
  EMBER_ASSIGN_OR_RETURN(const std::string ffn_text, unit_counts_text(neurons));
  EMBER_ASSIGN_OR_RETURN(const std::string head_text, unit_counts_text(heads));
  if (ffn_text.empty() && head_text.empty()) return std::optional<PipelineEntry>();
  std::map<std::string, std::string> options = {{"ffn", "0"}, {"score", "taylor-first"}, {"recovery", "lsq"}};
  if (!ffn_text.empty()) options["ffn-per-layer"] = ffn_text;
  if (!head_text.empty()) options["heads-per-block"] = head_text, options["head-score"] = "taylor";
  if (importance_rows > 0) options["importance-rows"] = std::to_string(importance_rows);
  return std::optional<PipelineEntry>(pipeline_entry("prune-structured", std::move(options)));
}

}  // namespace

const std::vector<PipelineEntry>& preparation_pipeline() {
  static const std::vector<PipelineEntry> prep = {pipeline_entry("constants-to-initializers", {}),
                                                  pipeline_entry("upgrade-opset", {{"version", "13"}})};
  return prep;
}

std::string exact_names_regex(const std::vector<std::string>& names) {
  std::string out = "^(";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += "|";
    for (char c : names[i]) {
      if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
      out += c;
    }
  }
  return out + ")$";
}

Result<std::vector<PipelineEntry>> realize_actions(const std::vector<SearchLayer>& layers,
                                                   const std::vector<LayerAction>& actions, int64_t importance_rows) {
  if (layers.size() != actions.size()) return internal_error("search: one action per layer expected");
  // action name -> (action, weights), GPTQ first, then by name: a deterministic order.
  std::map<std::pair<int, std::string>, std::pair<LayerAction, std::vector<std::string>>> groups;
  EMBER_ASSIGN_OR_RETURN(const std::optional<PipelineEntry> prune, prune_entry(layers, actions, importance_rows));
  std::vector<std::string> static_nodes;  // layers whose input is quantized too (int8-a8-static)
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerAction a = without_pruning(actions[i]);  // the pruning is prune_entry's
    if (a.kind == LayerAction::Kind::kKeepFloat) continue;
    if (a.static_activations) {
      if (layers[i].node.find_first_of(",}") != std::string::npos)
        return invalid_input("search: node '" + layers[i].node + "' has ',' or '}', which pipeline text cannot carry");
      static_nodes.push_back(layers[i].node);
      a.static_activations = false;  // its weights: one quantize-weights pass with the plain INT8 layers
    }
    if (layers[i].weight.find_first_of(",}") != std::string::npos)
      return invalid_input("search: weight '" + layers[i].weight + "' has ',' or '}', which pipeline text cannot carry");
    auto& g = groups[{a.method == "gptq" ? 0 : 1, action_name(a)}];
    g.first = a;
    g.second.push_back(layers[i].weight);
  }
  std::vector<PipelineEntry> out;
  if (prune) out.push_back(*prune);
  for (const auto& [key, group] : groups) {
    auto options = quantize_options(group.first);
    options["include"] = exact_names_regex(group.second);
    out.push_back(pipeline_entry("quantize-weights", std::move(options)));
  }
  if (!static_nodes.empty())  // after every weight: the calibration observes the quantized model, as a replay does
    out.push_back(pipeline_entry("quantize-activations", {{"mode", "static"}, {"method", "percentile"}, {"include", exact_names_regex(static_nodes)}}));
  out.push_back(pipeline_entry("dce", {}));
  return out;
}

}  // namespace ember::passes::search
