#include "passes/quantize/weight_views.h"

#include <set>
#include <string>
#include <vector>

#include "passes/graph_edit.h"

namespace ember::passes::quant {
namespace {

constexpr int64_t kOnnxFloat = 1;  // TensorProto.FLOAT

bool default_domain(const ir::Node& node) { return node.domain.empty() || node.domain == "ai.onnx"; }

// How many node inputs of `graph` read `name`, plus one per subgraph that reads it.
size_t reads_of(const ir::Graph& graph, const std::string& name) {
  size_t n = 0;
  for (const auto& node : graph.nodes) {
    for (const auto& in : node.inputs) n += in == name;
    for (const auto& attr : node.attributes) {
      if (attr.g) n += names_read(*attr.g).count(name);
      for (const auto& g : attr.graphs) n += names_read(*g).count(name);
    }
  }
  return n;
}

std::vector<int64_t> perm_of(const ir::Node& node, int rank) {
  std::vector<int64_t> perm = node.attr_ints("perm");
  if (perm.empty())
    for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  return perm;
}

bool valid_perm(const std::vector<int64_t>& perm, int rank) {
  if (perm.size() != size_t(rank)) return false;
  std::set<int64_t> seen(perm.begin(), perm.end());
  return seen.size() == perm.size() && *seen.begin() == 0 && *seen.rbegin() == rank - 1;
}

Tensor transposed(const Tensor& w, const std::vector<int64_t>& perm) {
  const int rank = w.rank();
  Shape out_shape(size_t(rank), 0);
  for (int i = 0; i < rank; ++i) out_shape[size_t(i)] = w.dim(int(perm[size_t(i)]));
  std::vector<int64_t> in_strides(size_t(rank), 1);
  for (int i = rank - 2; i >= 0; --i) in_strides[size_t(i)] = in_strides[size_t(i + 1)] * w.dim(i + 1);
  Tensor out = Tensor::zeros(DType::kF32, out_shape);
  const float* src = w.data<float>();
  float* dst = out.mutable_data<float>();
  std::vector<int64_t> index(size_t(rank), 0);  // the output position, odometer order
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t offset = 0;
    for (int i = 0; i < rank; ++i) offset += index[size_t(i)] * in_strides[size_t(perm[size_t(i)])];
    dst[o] = src[offset];
    for (int i = rank - 1; i >= 0 && ++index[size_t(i)] == out_shape[size_t(i)]; --i) index[size_t(i)] = 0;
  }
  return out;
}

Tensor to_f32(const Tensor& w) {
  Tensor out = Tensor::zeros(DType::kF32, w.shape());
  const uint16_t* src = w.data<uint16_t>();
  for (int64_t i = 0; i < w.numel(); ++i) out.mutable_data<float>()[i] = half_to_float(src[size_t(i)]);
  return out;
}

// A 2-D Transpose feeding only MatMul input 1: the layer model's transposed-MatMul use.
bool layer_model_reads_it(const ir::Graph& graph, const std::string& v, int rank, const std::vector<int64_t>& perm) {
  if (rank != 2 || perm != std::vector<int64_t>{1, 0}) return false;
  bool any = false;
  for (const auto& node : graph.nodes)
    for (size_t k = 0; k < node.inputs.size(); ++k)
      if (node.inputs[k] == v) {
        if (node.op_type != "MatMul" || k != 1) return false;
        any = true;
      }
  return any;
}

void drop_initializer(ir::Graph& graph, const std::string& name) {
  graph.remove_initializer(name);
  graph.external_locations.erase(name);
  std::erase_if(graph.value_info, [&](const ir::ValueInfo& v) { return v.name == name; });
}

// Folds node `i` when it is a foldable view; true when the graph changed.
bool fold_one(ir::Graph& graph, size_t i, const std::set<std::string>& fixed) {
  const ir::Node& node = graph.nodes[i];
  const bool view = node.op_type == "Identity" || node.op_type == "Cast" || node.op_type == "Transpose";
  if (!view || !default_domain(node) || node.inputs.size() != 1 || node.outputs.size() != 1) return false;
  const std::string w = node.inputs[0], v = node.outputs[0];
  const Tensor* t = graph.find_initializer(w);
  if (!t || v.empty() || fixed.count(w) || fixed.count(v) || graph.find_initializer(v)) return false;
  const bool f32 = t->dtype() == DType::kF32;
  const bool rename = node.op_type == "Identity" || (node.op_type == "Cast" && f32 && node.attr_int("to", 0) == kOnnxFloat);
  if (rename) {
    graph.nodes.erase(graph.nodes.begin() + std::ptrdiff_t(i));
    replace_uses(graph, v, w);
    std::erase_if(graph.value_info, [&](const ir::ValueInfo& x) { return x.name == v; });
    return true;
  }
  if (reads_of(graph, w) != 1) return false;  // materialising would duplicate the weight
  Tensor folded;
  if (node.op_type == "Cast") {
    if (t->dtype() != DType::kF16 || node.attr_int("to", 0) != kOnnxFloat) return false;
    folded = to_f32(*t);
  } else {
    const std::vector<int64_t> perm = perm_of(node, t->rank());
    if (!f32 || !valid_perm(perm, t->rank()) || layer_model_reads_it(graph, v, t->rank(), perm)) return false;
    folded = transposed(*t, perm);
  }
  graph.nodes.erase(graph.nodes.begin() + std::ptrdiff_t(i));
  drop_initializer(graph, w);
  std::erase_if(graph.value_info, [&](const ir::ValueInfo& x) { return x.name == v; });
  graph.set_initializer(v, std::move(folded));
  return true;
}

}  // namespace

size_t fold_weight_views(ir::Graph& graph) {
  std::set<std::string> fixed = graph_output_names(graph);  // graph inputs and outputs keep their names
  for (const auto& in : graph.inputs) fixed.insert(in.name);
  size_t folded = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < graph.nodes.size(); ++i)
      if (fold_one(graph, i, fixed)) {
        ++folded;
        changed = true;
        break;
      }
  }
  return folded;
}

}  // namespace ember::passes::quant
