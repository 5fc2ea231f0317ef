#include "passes/analysis/layer_structure.h"

#include <algorithm>
#include <deque>
#include <set>

namespace ember::passes::analysis {
namespace {

struct Use {
  size_t node;
  size_t input;
};
using Consumers = std::map<std::string, std::vector<Use>>;

Consumers consumers_of(const ir::Graph& graph) {
  Consumers c;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (size_t j = 0; j < graph.nodes[i].inputs.size(); ++j)
      if (!graph.nodes[i].inputs[j].empty()) c[graph.nodes[i].inputs[j]].push_back({i, j});
  return c;
}

bool is_plain_transpose_2d(const ir::Node& node) {
  const std::vector<int64_t> perm = node.attr_ints("perm");
  return perm.empty() || perm == std::vector<int64_t>{1, 0};
}

// The first Gemm / MatMul / Conv that reads `value` as its weight, following Transpose and
// Identity; `flipped` tracks whether the weight arrives transposed.
std::optional<LayerWeight> find_use(const ir::Graph& graph, const Consumers& consumers, const std::string& value,
                                    const Shape& shape, bool flipped, int depth) {
  auto it = consumers.find(value);
  if (it == consumers.end() || depth > 4) return std::nullopt;
  for (const Use& use : it->second) {
    const ir::Node& node = graph.nodes[use.node];
    if (!node.domain.empty()) continue;
    if ((node.op_type == "Transpose" && shape.size() == 2 && is_plain_transpose_2d(node)) || node.op_type == "Identity") {
      auto found = find_use(graph, consumers, node.outputs[0], shape, flipped != (node.op_type == "Transpose"), depth + 1);
      if (found) return found;
      continue;
    }
    if (use.input != 1 || node.inputs.empty()) continue;
    LayerWeight w;
    w.op = node.op_type;
    w.node = node.name;
    w.input = node.inputs[0];
    if ((node.op_type == "Gemm" || node.op_type == "MatMul") && shape.size() == 2) {
      const bool read_kn = node.op_type == "MatMul" || node.attr_int("transB", 0) == 0;  // B as read is [K, N]
      w.column_major = read_kn != flipped;
      w.rows = w.column_major ? shape[1] : shape[0];
      w.cols = w.column_major ? shape[0] : shape[1];
      return w;
    }
    if (node.op_type == "Conv" && shape.size() >= 3 && !flipped) {
      w.rows = shape[0];
      w.cols = shape[0] ? shape_numel(shape) / shape[0] : 0;
      return w;
    }
  }
  return std::nullopt;
}

bool is_bias_of(const ir::Graph& graph, const std::string& name, int64_t channels) {
  const Tensor* t = graph.find_initializer(name);
  return t && t->rank() == 1 && t->dim(0) == channels && t->dtype() == DType::kF32;
}

// The layer's bias and the value that carries its output (after the bias Add of a MatMul).
std::string find_bias(const ir::Graph& graph, const Consumers& consumers, const ir::Node& node, int64_t channels,
                      std::string* output) {
  *output = node.outputs.empty() ? std::string() : node.outputs[0];
  if ((node.op_type == "Gemm" || node.op_type == "Conv") && node.has_input(2) && is_bias_of(graph, node.inputs[2], channels))
    return node.inputs[2];
  if (node.op_type != "MatMul") return {};
  auto it = consumers.find(*output);
  if (it == consumers.end() || it->second.size() != 1) return {};
  const ir::Node& add = graph.nodes[it->second[0].node];
  if (add.op_type != "Add" || add.inputs.size() != 2) return {};
  const std::string& other = add.inputs[1 - it->second[0].input];
  if (!is_bias_of(graph, other, channels)) return {};
  *output = add.outputs[0];
  return other;
}

bool passes_elementwise(const std::string& op) {
  static const std::set<std::string> kOps = {"Add",  "Sub",      "Mul",     "Div",     "Pow",     "Tanh",   "Erf",
                                             "Relu", "LeakyRelu", "Sigmoid", "Gelu",    "Neg",     "Sqrt",   "Exp",
                                             "Cast", "Reshape",  "Identity", "Flatten", "Squeeze", "Unsqueeze", "Softplus"};
  return kOps.count(op) > 0;
}

// True when `output` reaches the activation input of another linear layer with `channels`
// inputs through elementwise ops only.
bool feeds_linear_layer(const ir::Graph& graph, const Consumers& consumers, const std::string& output, int64_t channels,
                        const std::map<std::string, const LayerWeight*>& layer_by_node) {
  std::deque<std::string> queue{output};
  std::set<std::string> seen{output};
  while (!queue.empty() && seen.size() < 64) {
    const std::string v = queue.front();
    queue.pop_front();
    auto it = consumers.find(v);
    if (it == consumers.end()) continue;
    for (const Use& use : it->second) {
      const ir::Node& node = graph.nodes[use.node];
      auto layer = layer_by_node.find(node.name);
      if (layer != layer_by_node.end() && use.input == 0 && layer->second->op != "Conv")
        return layer->second->cols == channels;
      if (!passes_elementwise(node.op_type)) continue;
      for (const auto& out : node.outputs)
        if (!out.empty() && seen.insert(out).second) queue.push_back(out);
    }
  }
  return false;
}

struct HeadHit {
  int64_t offset, heads, head_dim;
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
        hits.push_back({offset, heads, width / heads});
      }
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

std::string group_kind_name(GroupKind kind) {
  switch (kind) {
    case GroupKind::kOutputChannel: return "output_channel";
    case GroupKind::kFfnNeuron: return "ffn_neuron";
    case GroupKind::kNone: break;
  }
  return "none";
}

Result<LayerStructure> find_layer_structure(const ir::Graph& graph, const ShapeLookup& shape_of, int64_t heads) {
  if (heads < 0) return invalid_input("the number of attention heads must be positive");
  LayerStructure s;
  const Consumers consumers = consumers_of(graph);
  std::map<std::string, std::string> output_of;  // weight -> value carrying the layer output
  for (const auto& name : graph.initializer_order) {
    const Tensor& t = graph.initializers.at(name);
    if (t.dtype() != DType::kF32 || t.rank() < 2) continue;
    auto use = find_use(graph, consumers, name, t.shape(), false, 0);
    if (!use) continue;
    use->weight = name;
    const ir::Node* node = nullptr;
    for (const auto& n : graph.nodes)
      if (n.name == use->node) node = &n;
    if (node) use->bias = find_bias(graph, consumers, *node, use->rows, &output_of[name]);
    s.layers[name] = *use;
  }
  std::map<std::string, const LayerWeight*> layer_by_node;
  for (const auto& [name, layer] : s.layers) layer_by_node[layer.node] = &layer;
  for (auto& [name, layer] : s.layers)
    if (layer.op != "Conv" && feeds_linear_layer(graph, consumers, output_of[name], layer.rows, layer_by_node))
      layer.groups = GroupKind::kFfnNeuron;
  // Attention: group the head splits of projections that read the same input.
  std::map<std::tuple<std::string, int64_t, int64_t>, AttentionBlock> blocks;
  for (const auto& [name, layer] : s.layers) {
    if (layer.op == "Conv") continue;
    std::vector<HeadHit> hits;
    trace_heads(graph, consumers, shape_of, heads, output_of[name], 0, layer.rows, 0, hits);
    for (const HeadHit& h : hits) {
      AttentionBlock& b = blocks[{layer.input, h.heads, h.head_dim}];
      b.input = layer.input;
      b.heads = h.heads;
      b.head_dim = h.head_dim;
      b.slices.push_back({name, h.offset});
    }
  }
  for (auto& [key, block] : blocks) s.attention.push_back(std::move(block));
  return s;
}

}  // namespace ember::passes::analysis
