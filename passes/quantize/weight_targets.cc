#include "passes/quantize/weight_targets.h"

#include <algorithm>
#include <map>

#include "passes/graph_edit.h"
#include "passes/quantize/transpose.h"

namespace ember::passes::quant {
namespace {

struct Reader {
  size_t node;
  size_t input;
};

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

bool is_transpose_2d(const ir::Node& node) {
  const std::vector<int64_t> perm = node.attr_ints("perm");
  return perm.empty() || perm == std::vector<int64_t>{1, 0};
}

// The uses one reader contributes, with the channel axis they imply; a reason when none.
struct ReaderUses {
  std::vector<WeightUse> uses;
  int channel_axis = 0;
  std::string reason;  // non-empty: this reader cannot be covered
};

ReaderUses classify(const ir::Graph& graph, const std::map<std::string, std::vector<Reader>>& readers,
                    const std::set<std::string>& outputs, const Reader& r, int rank) {
  const ir::Node& node = graph.nodes[r.node];
  ReaderUses out;
  if (!node.domain.empty() && node.domain != "ai.onnx") {
    out.reason = "read by " + node.domain + "." + node.op_type;
    return out;
  }
  const std::string& op = node.op_type;
  if (op == "MatMul" && r.input == 1 && rank == 2) {
    out.uses.push_back({UseKind::kMatMul, r.node, 0, node.inputs[0]});
    out.channel_axis = 1;
  } else if (op == "Gemm" && r.input == 1 && rank == 2) {
    const bool trans_a = node.attr_int("transA", 0) != 0;
    out.uses.push_back({UseKind::kGemm, r.node, 0, trans_a ? std::string() : node.inputs[0]});
    out.channel_axis = node.attr_int("transB", 0) != 0 ? 0 : 1;
  } else if (op == "Conv" && r.input == 1 && rank >= 3) {
    out.uses.push_back({UseKind::kConv, r.node, 0, {}});
  } else if (op == "Gather" && r.input == 0 && rank == 2 && node.attr_int("axis", 0) == 0) {
    out.uses.push_back({UseKind::kGather, r.node, 0, {}});
  } else if (op == "Transpose" && r.input == 0 && rank == 2 && is_transpose_2d(node) && node.outputs.size() == 1) {
    const std::string& t = node.outputs[0];
    auto it = readers.find(t);
    if (outputs.count(t) || it == readers.end()) {
      out.reason = "read by a Transpose whose output is not a MatMul weight";
      return out;
    }
    for (const Reader& m : it->second) {
      const ir::Node& mm = graph.nodes[m.node];
      if (mm.op_type != "MatMul" || !mm.domain.empty() || m.input != 1) {
        out.uses.clear();
        out.reason = "read by a Transpose whose output feeds " + mm.op_type;
        return out;
      }
      out.uses.push_back({UseKind::kMatMulTransposed, m.node, r.node, mm.inputs[0]});
    }
  } else {
    out.reason = "read by " + op + " input " + std::to_string(r.input);
  }
  return out;
}

}  // namespace

std::string WeightTarget::op() const {
  std::set<std::string> ops;
  for (const auto& u : uses) ops.insert(use_op(u.kind));
  std::string s;
  for (const auto& o : ops) s += (s.empty() ? "" : "+") + o;
  return s;
}

bool WeightTarget::all_uses_linear() const {
  for (const auto& u : uses)
    if (!u.linear()) return false;
  return !uses.empty();
}

TargetScan find_weight_targets(const ir::Graph& graph, const TargetFilter& filter) {
  std::map<std::string, std::vector<Reader>> readers;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (size_t k = 0; k < graph.nodes[i].inputs.size(); ++k)
      if (!graph.nodes[i].inputs[k].empty()) readers[graph.nodes[i].inputs[k]].push_back({i, k});
  std::set<std::string> subgraph_reads;
  for (const auto& node : graph.nodes)
    for (const auto& attr : node.attributes) {
      if (attr.g) subgraph_reads.merge(names_read(*attr.g));
      for (const auto& g : attr.graphs) subgraph_reads.merge(names_read(*g));
    }
  const std::set<std::string> outputs = graph_output_names(graph);
  std::set<std::string> graph_inputs;
  for (const auto& in : graph.inputs) graph_inputs.insert(in.name);

  TargetScan scan;
  for (const std::string& name : graph.initializer_order) {
    const Tensor& w = graph.initializers.at(name);
    auto it = readers.find(name);
    if (w.dtype() != DType::kF32 || it == readers.end()) continue;
    WeightTarget t;
    t.name = name;
    t.shape = w.shape();
    std::string reason;
    std::set<int> axes;
    for (const Reader& r : it->second) {
      ReaderUses ru = classify(graph, readers, outputs, r, w.rank());
      if (!ru.reason.empty()) {
        reason = ru.reason;
        continue;
      }
      for (const auto& u : ru.uses) {
        if (!filter.ops.count(use_op(u.kind))) reason = std::string(use_op(u.kind)) + " is not in ops";
        t.uses.push_back(u);
      }
      axes.insert(ru.channel_axis);
    }
    if (t.uses.empty()) continue;  // biases, norms, shapes: never weights of a covered op
    if (reason.empty() && axes.size() > 1) reason = "its readers disagree on the channel axis";
    if (reason.empty() && (graph_inputs.count(name) || outputs.count(name))) reason = "it is a graph input or output";
    if (reason.empty() && subgraph_reads.count(name)) reason = "it is read inside a subgraph";
    if (reason.empty() && w.numel() < filter.min_size)
      reason = "it has " + std::to_string(w.numel()) + " elements, fewer than min-size";
    if (reason.empty() && filter.exclude) {
      bool hit = std::regex_search(name, *filter.exclude);
      for (const auto& u : t.uses) hit = hit || std::regex_search(graph.nodes[u.node].name, *filter.exclude);
      if (hit) reason = "excluded by the exclude pattern";
    }
    if (!reason.empty()) {
      scan.skipped.push_back(name + ": " + reason);
      continue;
    }
    t.channel_axis = *axes.begin();
    t.channels = t.shape[size_t(t.channel_axis)];
    t.reduction = w.numel() / std::max<int64_t>(t.channels, 1);
    if (t.channels == 0 || t.reduction == 0) continue;
    scan.targets.push_back(std::move(t));
  }
  return scan;
}

std::vector<float> canonical_matrix(const WeightTarget& target, const Tensor& weight) {
  const float* w = weight.data<float>();
  const int64_t n = weight.numel();
  if (target.channel_axis == 0) return std::vector<float>(w, w + n);
  // [K, N] -> [N, K]
  const int64_t K = target.reduction, N = target.channels;
  std::vector<float> out(static_cast<size_t>(n));
  transpose_into(w, K, N, out.data());
  return out;
}

Tensor from_canonical(const WeightTarget& target, const std::vector<float>& canonical) {
  Tensor t = Tensor::zeros(DType::kF32, target.shape);
  float* out = t.mutable_data<float>();
  if (target.channel_axis == 0) {
    std::copy(canonical.begin(), canonical.end(), out);
    return t;
  }
  const int64_t K = target.reduction, N = target.channels;
  transpose_into(canonical.data(), N, K, out);
  return t;
}

}  // namespace ember::passes::quant
