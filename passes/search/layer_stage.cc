#include "passes/search/layer_stage.h"

#include <deque>

#include "passes/graph_edit.h"

namespace ember::passes::search {
namespace {

bool elementwise(const std::string& op) {
  static const std::set<std::string> kOps = {"Add",  "Sub",       "Mul",     "Div",  "Pow",     "Tanh",     "Erf",
                                             "Relu", "LeakyRelu", "Sigmoid", "Gelu", "Neg",     "Sqrt",     "Exp",
                                             "Cast", "Reshape",   "Identity", "Flatten", "Squeeze", "Unsqueeze",
                                             "Softplus", "Clip",  "HardSigmoid", "HardSwish"};
  return kOps.count(op) > 0;
}

struct Reach {
  std::set<std::string> layers;  // weights of the layers first reached
  bool graph_output = false;
};

// Follows `start` forward through nodes that are not layers (only elementwise ones when
// `elementwise_only`), stopping at the first layers reached.
Reach follow(const ir::Graph& graph, const ValueReaders& readers, const std::map<std::string, std::string>& layer_of_node,
             const std::set<std::string>& outputs, const std::string& start, bool elementwise_only) {
  Reach reach;
  std::deque<std::string> queue{start};
  std::set<std::string> seen{start};
  while (!queue.empty() && seen.size() < 256) {
    const std::string v = queue.front();
    queue.pop_front();
    if (outputs.count(v)) reach.graph_output = true;
    auto it = readers.find(v);
    if (it == readers.end()) continue;
    for (const ValueReader& use : it->second) {
      const ir::Node& node = graph.nodes[use.node];
      auto layer = layer_of_node.find(node.name);
      if (layer != layer_of_node.end()) {
        reach.layers.insert(layer->second);
        continue;
      }
      if (elementwise_only && !elementwise(node.op_type)) continue;
      for (const auto& out : node.outputs)
        if (!out.empty() && seen.insert(out).second) queue.push_back(out);
    }
  }
  return reach;
}

}  // namespace

std::map<std::string, Stage> classify_stages(const ir::Graph& graph, const analysis::LayerModel& layers,
                                             const std::set<std::string>& attention_weights) {
  const ValueReaders readers = value_readers(graph);
  const std::set<std::string> outputs = graph_output_names(graph);
  std::map<std::string, std::string> layer_of_node;
  for (const auto& l : layers.layers)
    if (l.is_compute()) layer_of_node[l.node] = l.weight;
  std::map<std::string, Stage> stage;
  for (const auto& l : layers.layers) stage[l.weight] = Stage::kOther;
  for (const auto& l : layers.layers) {
    const bool gather = l.op_types().find("Gather") != std::string::npos;
    if (gather) stage[l.weight] = Stage::kEmbedding;
    if (!l.is_compute() || gather) continue;
    if (attention_weights.count(l.weight)) {
      stage[l.weight] = Stage::kAttention;
      for (const auto& w : follow(graph, readers, layer_of_node, outputs, l.output, false).layers)
        if (stage[w] == Stage::kOther) stage[w] = Stage::kAttention;
    } else if (l.groups == analysis::GroupKind::kFfnNeuron) {
      stage[l.weight] = Stage::kFfn;
      for (const auto& w : follow(graph, readers, layer_of_node, outputs, l.output, true).layers)
        if (stage[w] == Stage::kOther) stage[w] = Stage::kFfn;
    }
  }
  for (const auto& l : layers.layers) {
    if (!l.is_compute() || stage[l.weight] != Stage::kOther) continue;
    const Reach r = follow(graph, readers, layer_of_node, outputs, l.output, false);
    if (r.graph_output && r.layers.empty()) stage[l.weight] = Stage::kHead;
  }
  return stage;
}

}  // namespace ember::passes::search
