#include "passes/analysis/layer_model.h"

#include <algorithm>
#include <set>

#include "passes/graph_edit.h"
#include "passes/quantize/transpose.h"

namespace ember::passes::analysis {
namespace {

using Reader = ValueReader;
using Readers = ValueReaders;

bool is_transpose_2d(const ir::Node& node) {
  const std::vector<int64_t> perm = node.attr_ints("perm");
  return node.op_type == "Transpose" && (perm.empty() || perm == std::vector<int64_t>{1, 0});
}

bool default_domain(const ir::Node& node) { return node.domain.empty() || node.domain == "ai.onnx"; }

// What one reader (followed through Identity / Transpose) contributes: uses with the channel
// axis of the stored weight they imply, and a blocker when quantization cannot rewrite it.
struct Classified {
  std::vector<std::pair<WeightUse, int>> uses;  // use, channel axis
  std::string blocker;
};

void classify(const ir::Graph& graph, const Readers& readers, const std::set<std::string>& outputs, const Reader& r,
              int rank, bool flipped, bool via_identity, int depth, Classified& out) {
  const ir::Node& node = graph.nodes[r.node];
  if (!default_domain(node)) {
    out.blocker = "read by " + node.domain + "." + node.op_type;
    return;
  }
  const std::string& op = node.op_type;
  const bool hop = depth < 4 && node.outputs.size() == 1 && !node.outputs[0].empty() && r.input == 0;
  // A Cast to FLOAT of an f32 weight is an Identity (tf2onnx and spox write them).
  const bool identity = op == "Identity" || (op == "Cast" && node.attr_int("to", 0) == 1);
  if (hop && (identity || (is_transpose_2d(node) && rank == 2))) {
    const std::string& v = node.outputs[0];
    auto it = readers.find(v);
    if (outputs.count(v) || it == readers.end()) {
      out.blocker = "read by a " + op + " whose output is not a layer weight";
      return;
    }
    for (const Reader& next : it->second) {
      Classified inner;
      classify(graph, readers, outputs, next, rank, flipped != (op == "Transpose"), via_identity || identity,
               depth + 1, inner);
      for (auto& [use, axis] : inner.uses) {
        if (op == "Transpose" && use.kind == UseKind::kMatMul && !flipped) {
          use.kind = UseKind::kMatMulTransposed;
          use.transpose_node = r.node;
        } else if (op == "Transpose" && inner.blocker.empty()) {
          inner.blocker = "read by a Transpose whose output feeds " + std::string(use_op(use.kind));
        }
        out.uses.emplace_back(use, axis);
      }
      if (!inner.blocker.empty()) out.blocker = inner.blocker;
    }
    // quantize-weights folds these first (quantize/weight_views.h); other users keep them.
    if (identity && out.blocker.empty()) out.blocker = op == "Identity" ? "read through an Identity" : "read through a Cast";
    return;
  }
  const bool linear_reader = (op == "MatMul" || op == "Gemm") && r.input == 1 && rank == 2;
  if (linear_reader) {
    const bool trans_a = op == "Gemm" && node.attr_int("transA", 0) != 0;
    const bool read_kn = op == "MatMul" || node.attr_int("transB", 0) == 0;  // B as read is [K, N]
    const UseKind kind = op == "MatMul" ? UseKind::kMatMul : UseKind::kGemm;
    out.uses.push_back({{kind, r.node, 0, trans_a ? std::string() : node.inputs[0]}, read_kn != flipped ? 1 : 0});
  } else if (op == "Conv" && r.input == 1 && rank >= 3 && !flipped) {
    out.uses.push_back({{UseKind::kConv, r.node, 0, {}}, 0});
  } else if (op == "Gather" && r.input == 0 && rank == 2 && node.attr_int("axis", 0) == 0 && !flipped) {
    out.uses.push_back({{UseKind::kGather, r.node, 0, {}}, 0});
  } else {
    out.blocker = "read by " + op + " input " + std::to_string(r.input);
  }
}

bool is_bias_of(const ir::Graph& graph, const std::string& name, int64_t channels) {
  const Tensor* t = graph.find_initializer(name);
  return t && t->rank() == 1 && t->dim(0) == channels && t->dtype() == DType::kF32;
}

// The primary use's bias and the value carrying the layer's output (after a MatMul's bias Add).
void find_bias(const ir::Graph& graph, const Readers& readers, Layer& layer, const ir::Node& node) {
  layer.output = node.outputs.empty() ? std::string() : node.outputs[0];
  if ((node.op_type == "Gemm" || node.op_type == "Conv") && node.has_input(2) &&
      is_bias_of(graph, node.inputs[2], layer.channels)) {
    layer.bias = node.inputs[2];
    return;
  }
  if (node.op_type != "MatMul") return;
  auto it = readers.find(layer.output);
  if (it == readers.end() || it->second.size() != 1) return;
  const ir::Node& add = graph.nodes[it->second[0].node];
  if (add.op_type != "Add" || add.inputs.size() != 2) return;
  const std::string& other = add.inputs[1 - it->second[0].input];
  if (!is_bias_of(graph, other, layer.channels)) return;
  layer.bias = other;
  layer.output = add.outputs[0];
}

// Fills a layer from its classified readers; false when no reader uses it as a weight.
bool describe(const ir::Graph& graph, const Readers& readers, const std::vector<Classified>& parts, Layer& layer) {
  std::set<int> axes;
  std::optional<int> primary_axis;
  for (const Classified& c : parts) {
    if (!c.blocker.empty()) layer.blocker = c.blocker;
    for (const auto& [use, axis] : c.uses) {
      layer.uses.push_back(use);
      axes.insert(axis);
      if (!primary_axis && use.kind != UseKind::kGather) {
        primary_axis = axis;
        const ir::Node& node = graph.nodes[use.node];
        layer.node = node.name;
        layer.op = node.op_type;
        layer.input = node.inputs.empty() ? std::string() : node.inputs[0];
      }
    }
  }
  if (layer.uses.empty()) return false;
  std::sort(layer.uses.begin(), layer.uses.end(), [](const WeightUse& a, const WeightUse& b) { return a.node < b.node; });
  if (axes.size() > 1 && layer.blocker.empty()) layer.blocker = "its readers disagree on the channel axis";
  layer.channel_axis = primary_axis ? *primary_axis : *axes.begin();
  layer.channels = layer.shape[size_t(layer.channel_axis)];
  layer.reduction = layer.channels ? shape_numel(layer.shape) / layer.channels : 0;
  if (layer.channels == 0 || layer.reduction == 0) return false;
  if (layer.is_compute()) {
    layer.groups = GroupKind::kOutputChannel;
    for (const WeightUse& u : layer.uses)
      if (graph.nodes[u.node].name == layer.node) {
        find_bias(graph, readers, layer, graph.nodes[u.node]);
        break;
      }
  }
  return true;
}

}  // namespace

const char* use_op(UseKind kind) {
  switch (kind) {
    case UseKind::kMatMul:
    case UseKind::kMatMulTransposed: return "MatMul";
    case UseKind::kGemm: return "Gemm";
    case UseKind::kConv: return "Conv";
    case UseKind::kGather: return "Gather";
  }
  return "?";
}

std::string group_kind_name(GroupKind kind) {
  switch (kind) {
    case GroupKind::kOutputChannel: return "output_channel";
    case GroupKind::kFfnNeuron: return "ffn_neuron";
    case GroupKind::kNone: break;
  }
  return "none";
}

std::string Layer::op_types() const {
  std::set<std::string> ops;
  for (const auto& u : uses) ops.insert(use_op(u.kind));
  std::string s;
  for (const auto& o : ops) s += (s.empty() ? "" : "+") + o;
  return s;
}

bool Layer::all_uses_linear() const {
  for (const auto& u : uses)
    if (!u.linear()) return false;
  return !uses.empty();
}

const Layer* LayerModel::find(const std::string& weight) const {
  for (const Layer& l : layers)
    if (l.weight == weight) return &l;
  return nullptr;
}

Result<LayerModel> build_layer_model(const ir::Graph& graph, const ShapeLookup& shape_of, int64_t heads) {
  if (heads < 0) return invalid_input("the number of attention heads must be positive");
  const Readers readers = value_readers(graph);
  const std::set<std::string> outputs = graph_output_names(graph);
  std::set<std::string> graph_inputs, subgraph_reads;
  for (const auto& in : graph.inputs) graph_inputs.insert(in.name);
  for (const auto& node : graph.nodes)
    for (const auto& attr : node.attributes) {
      if (attr.g) subgraph_reads.merge(names_read(*attr.g));
      for (const auto& g : attr.graphs) subgraph_reads.merge(names_read(*g));
    }
  LayerModel model;
  for (const std::string& name : graph.initializer_order) {
    const Tensor& w = graph.initializers.at(name);
    auto it = readers.find(name);
    if (w.dtype() != DType::kF32 || it == readers.end()) continue;
    std::vector<Classified> parts;
    for (const Reader& r : it->second) {
      parts.emplace_back();
      classify(graph, readers, outputs, r, w.rank(), false, false, 0, parts.back());
    }
    Layer layer;
    layer.weight = name;
    layer.shape = w.shape();
    if (!describe(graph, readers, parts, layer)) continue;
    if (layer.blocker.empty() && (graph_inputs.count(name) || outputs.count(name))) layer.blocker = "it is a graph input or output";
    if (layer.blocker.empty() && subgraph_reads.count(name)) layer.blocker = "it is read inside a subgraph";
    model.layers.push_back(std::move(layer));
  }
  find_layer_groups(graph, shape_of, heads, model);
  return model;
}

std::vector<float> canonical_matrix(const Layer& layer, const float* stored) {
  const int64_t n = layer.channels * layer.reduction;
  if (!layer.column_major()) return std::vector<float>(stored, stored + n);
  std::vector<float> out(static_cast<size_t>(n));  // [K, N] -> [N, K], in cache-sized tiles
  quant::transpose_into(stored, layer.reduction, layer.channels, out.data());
  return out;
}

std::vector<float> canonical_matrix(const Layer& layer, const Tensor& weight) {
  return canonical_matrix(layer, weight.data<float>());
}

Tensor from_canonical(const Layer& layer, const std::vector<float>& canonical) {
  Tensor t = Tensor::zeros(DType::kF32, layer.shape);
  float* out = t.mutable_data<float>();
  const int64_t K = layer.reduction, N = layer.channels;
  for (int64_t r = 0; r < N; ++r)
    for (int64_t c = 0; c < K; ++c) out[layer.index(r, c)] = canonical[size_t(r * K + c)];
  return t;
}

}  // namespace ember::passes::analysis
