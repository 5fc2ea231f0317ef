#include "passes/search/realize.h"

#include <map>

namespace ember::passes::search {
namespace {

std::map<std::string, std::string> quantize_options(const LayerAction& a) {
  std::map<std::string, std::string> o = {{"bits", a.kind == LayerAction::Kind::kInt8 ? "8" : "4"},
                                          {"block", std::to_string(a.block)}, {"method", a.method}};
  if (!a.symmetric) o["sym"] = "false";
  return o;
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
                                                   const std::vector<LayerAction>& actions) {
  if (layers.size() != actions.size()) return internal_error("search: one action per layer expected");
  // action name -> (action, weights), GPTQ first, then by name: a deterministic order.
  std::map<std::pair<int, std::string>, std::pair<LayerAction, std::vector<std::string>>> groups;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerAction& a = actions[i];
    if (a.kind == LayerAction::Kind::kKeepFloat) continue;
    if (a.kind == LayerAction::Kind::kPrune) return unsupported("search: pruning actions are not realised yet");
    if (layers[i].weight.find_first_of(",}") != std::string::npos)
      return invalid_input("search: weight '" + layers[i].weight + "' has ',' or '}', which pipeline text cannot carry");
    auto& g = groups[{a.method == "gptq" ? 0 : 1, action_name(a)}];
    g.first = a;
    g.second.push_back(layers[i].weight);
  }
  std::vector<PipelineEntry> out;
  for (const auto& [key, group] : groups) {
    auto options = quantize_options(group.first);
    options["include"] = exact_names_regex(group.second);
    out.push_back(pipeline_entry("quantize-weights", std::move(options)));
  }
  out.push_back(pipeline_entry("dce", {}));
  return out;
}

}  // namespace ember::passes::search
