// The structural groups of the layer model (layer_model.h): FFN neurons and attention heads.
#include <deque>
#include <set>
#include <tuple>

#include "passes/analysis/layer_model.h"
#include "passes/graph_edit.h"

namespace ember::passes::analysis {
namespace {

using Use = ValueReader;
using Consumers = ValueReaders;

bool passes_elementwise(const std::string& op) {
  static const std::set<std::string> kOps = {"Add",  "Sub",      "Mul",     "Div",     "Pow",     "Tanh",   "Erf",
                                             "Relu", "LeakyRelu", "Sigmoid", "Gelu",    "Neg",     "Sqrt",   "Exp",
                                             "Cast", "Reshape",  "Identity", "Flatten", "Squeeze", "Unsqueeze", "Softplus"};
  return kOps.count(op) > 0;
}

// How linear_layer_reached walks: kElementwise only through elementwise ops, and the first
// linear layer met decides (another width: none); kAnyOp through any op, past linear layers
// that do not fit.
enum class Reach { kElementwise, kAnyOp };

// The first linear (non-Conv) layer with `width` inputs whose activation input `start` reaches
// through its consumers (at most 64 values visited), or null. kElementwise finds an FFN's second
// layer from the first layer's output; kAnyOp an attention block's output projection from the
// head-split Reshape's output.
const Layer* linear_layer_reached(const ir::Graph& graph, const Consumers& consumers, const std::string& start, int64_t width,
                                  const std::map<std::string, const Layer*>& layer_by_node, Reach reach) {
  std::deque<std::string> queue{start};
  std::set<std::string> seen{start};
  while (!queue.empty() && seen.size() < 64) {
    const std::string v = queue.front();
    queue.pop_front();
    auto it = consumers.find(v);
    if (it == consumers.end()) continue;
    for (const Use& use : it->second) {
      const ir::Node& node = graph.nodes[use.node];
      auto layer = layer_by_node.find(node.name);
      const bool linear = layer != layer_by_node.end() && layer->second->op != "Conv";
      if (reach == Reach::kElementwise) {
        if (linear && use.input == 0) return layer->second->reduction == width ? layer->second : nullptr;
        if (!passes_elementwise(node.op_type)) continue;
      } else if (linear) {
        if (use.input == 0 && layer->second->reduction == width) return layer->second;
        continue;
      }
      for (const auto& out : node.outputs)
        if (!out.empty() && seen.insert(out).second) queue.push_back(out);
    }
  }
  return nullptr;
}

struct HeadHit {
  int64_t offset, heads, head_dim;
  std::string value;  // the head-split Reshape's output
};

// Follows a projection's output (offset, width) through bias Adds, Reshapes and last-axis
// Splits to the Reshape that splits heads.
void trace_heads(const ir::Graph& graph, const Consumers& consumers, const ShapeLookup& shape_of, int64_t forced_heads,
                 const std::string& value, int64_t offset, int64_t width, int depth, std::vector<HeadHit>& hits) {
  auto it = consumers.find(value);
  if (it == consumers.end() || depth > 8) return;
  const auto in_shape = shape_of(value);
  if (!in_shape || in_shape->empty() || in_shape->back() != width) return;
  for (const Use& use : it->second) {
    const ir::Node& node = graph.nodes[use.node];
    if (node.outputs.empty() || node.outputs[0].empty()) continue;
    if ((node.op_type == "Add" || node.op_type == "Sub") && node.inputs.size() == 2 &&
        graph.find_initializer(node.inputs[1 - use.input])) {
      trace_heads(graph, consumers, shape_of, forced_heads, node.outputs[0], offset, width, depth + 1, hits);
    } else if (node.op_type == "Reshape" && use.input == 0) {
      const auto out = shape_of(node.outputs[0]);
      if (!out || out->empty()) continue;
      if (out->back() == width) {
        trace_heads(graph, consumers, shape_of, forced_heads, node.outputs[0], offset, width, depth + 1, hits);
      } else if (out->size() >= 2 && (*out)[out->size() - 2] * out->back() == width) {
        int64_t heads = (*out)[out->size() - 2];
        if (forced_heads > 0 && width % forced_heads == 0) heads = forced_heads;
        hits.push_back({offset, heads, width / heads, node.outputs[0]});
      }
    } else if (node.op_type == "Slice" && use.input == 0 && node.inputs.size() >= 4) {  // one range of the last axis
      const Tensor* starts = graph.find_initializer(node.inputs[1]);
      const Tensor* axes = graph.find_initializer(node.inputs[3]);
      const auto s = shape_of(node.outputs[0]);
      if (!starts || !axes || starts->numel() != 1 || axes->numel() != 1 || starts->dtype() != DType::kI64 ||
          axes->dtype() != DType::kI64 || !s || s->empty())
        continue;
      const int64_t rank = static_cast<int64_t>(in_shape->size());
      const int64_t axis = axes->data<int64_t>()[0] < 0 ? axes->data<int64_t>()[0] + rank : axes->data<int64_t>()[0];
      const int64_t start = starts->data<int64_t>()[0];
      if (axis == rank - 1 && start >= 0 && start < width)
        trace_heads(graph, consumers, shape_of, forced_heads, node.outputs[0], offset + start, s->back(), depth + 1, hits);
    } else if (node.op_type == "Split") {
      const int64_t rank = static_cast<int64_t>(in_shape->size());
      int64_t axis = node.attr_int("axis", 0);
      if (axis < 0) axis += rank;
      if (axis != rank - 1) continue;
      int64_t start = offset;
      for (const auto& out : node.outputs) {
        const auto s = out.empty() ? std::nullopt : shape_of(out);
        if (!s || s->empty()) break;
        trace_heads(graph, consumers, shape_of, forced_heads, out, start, s->back(), depth + 1, hits);
        start += s->back();
      }
    }
  }
}

}  // namespace

std::vector<int> grouped_query_partners(const std::vector<AttentionBlock>& blocks) {
  std::vector<int> partner(blocks.size(), -1);
  std::vector<int> claims(blocks.size(), 0);
  for (size_t q = 0; q < blocks.size(); ++q) {
    int found = -1, count = 0;
    for (size_t kv = 0; kv < blocks.size(); ++kv)
      if (blocks[kv].input == blocks[q].input && blocks[kv].head_dim == blocks[q].head_dim && blocks[kv].heads > 0 &&
          blocks[kv].heads < blocks[q].heads && blocks[q].heads % blocks[kv].heads == 0)
        found = static_cast<int>(kv), ++count;
    if (count == 1) partner[q] = found, ++claims[size_t(found)];
  }
  for (int& p : partner)
    if (p >= 0 && claims[size_t(p)] != 1) p = -1;
  return partner;
}

void find_layer_groups(const ir::Graph& graph, const ShapeLookup& shape_of, int64_t heads, LayerModel& model) {
  const Consumers consumers = value_readers(graph);
  std::map<std::string, const Layer*> layer_by_node;
  for (const Layer& layer : model.layers)
    if (layer.is_compute()) layer_by_node[layer.node] = &layer;
  for (Layer& layer : model.layers) {
    if (!layer.is_compute() || layer.op == "Conv") continue;
    if (const Layer* next = linear_layer_reached(graph, consumers, layer.output, layer.channels, layer_by_node, Reach::kElementwise)) {
      layer.groups = GroupKind::kFfnNeuron;
      layer.ffn_consumer = next->weight;
    }
  }
  if (!shape_of) return;
  // Attention: group the head splits of projections that read the same input, the slices of
  // a block in weight-name order (the order reports list them in).
  std::map<std::string, const Layer*> by_name;
  for (const Layer& layer : model.layers) by_name[layer.weight] = &layer;
  std::map<std::tuple<std::string, int64_t, int64_t>, AttentionBlock> blocks;
  std::map<std::tuple<std::string, int64_t, int64_t>, std::set<std::string>> outputs;  // all slices must agree
  for (const auto& [name, layer_ptr] : by_name) {
    const Layer& layer = *layer_ptr;
    if (!layer.is_compute() || layer.op == "Conv") continue;
    std::vector<HeadHit> hits;
    trace_heads(graph, consumers, shape_of, heads, layer.output, 0, layer.channels, 0, hits);
    for (const HeadHit& h : hits) {
      AttentionBlock& b = blocks[{layer.input, h.heads, h.head_dim}];
      b.input = layer.input;
      b.heads = h.heads;
      b.head_dim = h.head_dim;
      b.slices.push_back({layer.weight, h.offset});
      const Layer* out = linear_layer_reached(graph, consumers, h.value, h.heads * h.head_dim, layer_by_node, Reach::kAnyOp);
      outputs[{layer.input, h.heads, h.head_dim}].insert(out ? out->weight : "");
    }
  }
  for (auto& [key, block] : blocks) {
    const auto& outs = outputs[key];
    if (outs.size() == 1) block.output = *outs.begin();
    model.attention.push_back(std::move(block));
  }
}

}  // namespace ember::passes::analysis
