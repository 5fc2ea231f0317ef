#include "passes/prune/ffn_groups.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "passes/graph_edit.h"

namespace ember::passes::prune {
namespace {

using analysis::Layer;

bool channelwise_op(const std::string& op) {
  static const std::set<std::string> kOps = {"Relu", "LeakyRelu", "Gelu", "Sigmoid", "Tanh",     "Erf", "Mul",
                                             "Add",  "Sub",       "Div",  "Pow",     "Sqrt",     "Neg", "Exp",
                                             "Softplus", "Identity", "HardSigmoid", "HardSwish", "Abs"};
  return kOps.count(op) > 0;
}

// A plain 2-D linear layer whose weight nothing else reads.
std::optional<std::string> unsupported_layer(const Layer& layer, const ValueReaders& readers) {
  if (layer.op != "MatMul" && layer.op != "Gemm") return "its op is " + layer.op;
  if (layer.uses.size() != 1 || (layer.uses[0].kind != analysis::UseKind::kMatMul &&
                                 layer.uses[0].kind != analysis::UseKind::kGemm))
    return "weight '" + layer.weight + "' is shared or read through a Transpose";
  if (layer.shape.size() != 2) return "weight '" + layer.weight + "' is not 2-D";
  if (!layer.bias.empty()) {
    auto it = readers.find(layer.bias);
    if (it == readers.end() || it->second.size() != 1) return "bias '" + layer.bias + "' is shared";
  }
  return std::nullopt;
}

class GroupTracer {
 public:
  GroupTracer(const ir::Graph& graph, const analysis::LayerModel& layers)
      : graph_(graph), readers_(value_readers(graph)), outputs_(graph_output_names(graph)) {
    for (const Layer& l : layers.layers)
      if (l.is_compute()) by_node_[l.node] = &l;
  }

  // The group of `firsts` (one first layer, or a gated FFN's gate and up projections; in
  // graph order), or the reason it is unsafe.
  std::optional<std::string> trace(const std::vector<const Layer*>& firsts, FfnGroup& group) {
    const Layer& first = *firsts[0];
    for (const Layer* l : firsts) {
      if (auto why = unsupported_layer(*l, readers_)) return firsts.size() > 1 ? "'" + l->node + "': " + *why : *why;
      if (l->channels != first.channels)
        return "the gated layers '" + first.node + "' and '" + l->node + "' have different widths";
    }
    group.first = first;
    group.neurons = first.channels;
    std::deque<std::string> queue;
    std::set<std::string> path;
    for (const Layer* l : firsts) {
      if (l != firsts[0]) group.parallel.push_back(*l);
      if (!l->bias.empty()) group.per_channel.push_back(l->bias);
      for (const ir::Node& n : graph_.nodes)  // the layer's own outputs (MatMul before its bias Add)
        if (n.name == l->node)
          for (const auto& o : n.outputs) group.values.push_back(o);
      if (path.insert(l->output).second) queue.push_back(l->output);
    }
    std::set<size_t> path_nodes;
    const Layer* consumer = nullptr;
    while (!queue.empty()) {
      const std::string v = queue.front();
      queue.pop_front();
      group.values.push_back(v);
      if (outputs_.count(v)) return "value '" + v + "' is a graph output";
      auto it = readers_.find(v);
      if (it == readers_.end()) continue;
      for (const ValueReader& r : it->second) {
        const ir::Node& node = graph_.nodes[r.node];
        auto layer = by_node_.find(node.name);
        if (layer != by_node_.end() && r.input == 0 && layer->second->reduction == first.channels &&
            (node.op_type == "MatMul" || (node.op_type == "Gemm" && node.attr_int("transA", 0) == 0))) {
          if (consumer && consumer != layer->second) return "the neurons reach two layers";
          consumer = layer->second;
          continue;
        }
        if (node.op_type == "Reshape") {
          if (auto why = check_reshape(node, r.input, first.channels)) return why;
          group.reshapes.push_back(r.node);
        } else if (!channelwise_op(node.op_type)) return "value '" + v + "' reaches " + node.op_type + " node '" + node.name + "'";
        if (path_nodes.size() > 64) return "the path to the next layer is longer than 64 ops";
        path_nodes.insert(r.node);
        for (const auto& out : node.outputs)
          if (!out.empty() && path.insert(out).second) queue.push_back(out);
      }
    }
    if (!consumer) return "no linear layer reads the neurons";
    if (auto why = unsupported_layer(*consumer, readers_)) return "consumer '" + consumer->node + "': " + *why;
    for (size_t index : path_nodes)
      if (auto why = check_side_inputs(graph_.nodes[index], path, first.channels, group)) return why;
    group.second = *consumer;
    return std::nullopt;
  }

 private:
  // Inputs of a path op that do not come from the neurons must be scalars or [N] constants read by it alone.
  std::optional<std::string> check_side_inputs(const ir::Node& node, const std::set<std::string>& path, int64_t n,
                                               FfnGroup& group) {
    for (const auto& in : node.inputs) {
      if (in.empty() || path.count(in) || (node.op_type == "Reshape" && in == node.inputs[1])) continue;
      const Tensor* t = graph_.find_initializer(in);
      if (!t) return "node '" + node.name + "' mixes in the non-constant value '" + in + "'";
      if (t->numel() == 1) continue;
      if (t->dtype() != DType::kF32 || t->rank() < 1 || t->dim(t->rank() - 1) != n || t->numel() != n)
        return "node '" + node.name + "' reads constant '" + in + "' that is neither a scalar nor per-neuron";
      if (readers_.at(in).size() != 1) return "per-neuron constant '" + in + "' is shared";
      group.per_channel.push_back(in);
    }
    return std::nullopt;
  }

  // A Reshape keeps the neurons on the last axis when its shape is a constant ending in N.
  std::optional<std::string> check_reshape(const ir::Node& node, size_t input, int64_t n) const {
    const Tensor* shape = node.inputs.size() == 2 ? graph_.find_initializer(node.inputs[1]) : nullptr;
    if (input != 0 || !shape || shape->dtype() != DType::kI64 || shape->rank() != 1 || shape->numel() < 1 ||
        shape->data<int64_t>()[shape->numel() - 1] != n)
      return "Reshape node '" + node.name + "' does not keep the neurons on the last axis (its shape is not a constant ending in " +
             std::to_string(n) + ")";
    return std::nullopt;
  }

  const ir::Graph& graph_;
  ValueReaders readers_;
  std::set<std::string> outputs_;
  std::map<std::string, const Layer*> by_node_;
};

}  // namespace

int64_t FfnGroup::input_width() const {
  int64_t k = first.reduction;
  for (const auto& p : parallel) k += p.reduction;
  return k;
}

FfnGroups find_ffn_groups(const ir::Graph& graph, const analysis::LayerModel& layers) {
  FfnGroups out;
  GroupTracer tracer(graph, layers);
  // First layers reaching one consumer are one group (a gated FFN's gate and up), in graph order.
  std::map<std::string, std::vector<const Layer*>> by_consumer;
  for (const Layer& layer : layers.layers)
    if (layer.groups == analysis::GroupKind::kFfnNeuron)
      by_consumer[layer.ffn_consumer].push_back(&layer);
  for (auto& [consumer, firsts] : by_consumer) {
    auto order = [](const Layer* l) { return l->uses.empty() ? size_t(0) : l->uses[0].node; };
    std::sort(firsts.begin(), firsts.end(), [&](const Layer* a, const Layer* b) { return order(a) < order(b); });
    FfnGroup group;
    if (auto why = tracer.trace(firsts, group)) {
      for (const Layer* l : firsts) out.skipped.push_back({l->node, *why});
    } else {
      out.groups.push_back(std::move(group));
    }
  }
  // Graph order: the sequential refit prunes a group after every group upstream of it.
  std::stable_sort(out.groups.begin(), out.groups.end(),
                   [](const FfnGroup& a, const FfnGroup& b) { return a.first.uses[0].node < b.first.uses[0].node; });
  return out;
}

}  // namespace ember::passes::prune
