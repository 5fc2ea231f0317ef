#include "passes/quantize/activation_targets.h"

#include "calibration/calibrator.h"

namespace ember::passes::act_quant {

Result<std::set<std::string>> parse_op_list(const std::string& text, const std::string& pass_name) {
  std::set<std::string> ops;
  size_t start = 0;
  while (start <= text.size()) {
    size_t plus = text.find('+', start);
    if (plus == std::string::npos) plus = text.size();
    const std::string op = text.substr(start, plus - start);
    if (op.empty()) return invalid_input(pass_name + ": ops '" + text + "' has an empty op type (use Op+Op+...)");
    ops.insert(op);
    start = plus + 1;
  }
  return ops;
}

Result<std::optional<std::regex>> parse_regex_option(const std::string& text, const std::string& what) {
  if (text.empty()) return std::optional<std::regex>();
  try {
    return std::optional<std::regex>(std::regex(text));
  } catch (const std::regex_error& e) {
    return invalid_input(what + ": '" + text + "' is not a valid regular expression (" + e.what() + ")");
  }
}

int producer_index(const ir::Graph& graph, const std::string& value) {
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (const auto& out : graph.nodes[i].outputs)
      if (out == value) return static_cast<int>(i);
  return -1;
}

std::vector<size_t> readers_of(const ir::Graph& graph, const std::string& value) {
  std::vector<size_t> readers;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (const auto& in : graph.nodes[i].inputs)
      if (in == value) {
        readers.push_back(i);
        break;
      }
  return readers;
}

bool read_in_subgraph(const ir::Graph& graph, const std::string& value) {
  bool found = false;
  for (const auto& node : graph.nodes)
    for (const auto& attr : node.attributes) {
      auto scan = [&](ir::Graph& g) {
        for (const auto& n : g.nodes)
          for (const auto& in : n.inputs) found |= in == value;
      };
      if (attr.g) ir::for_each_graph(*attr.g, scan);
      for (const auto& sub : attr.graphs) ir::for_each_graph(*sub, scan);
    }
  return found;
}

std::vector<Target> find_targets(const ir::Graph& graph, const TargetOptions& options) {
  const std::set<std::string> constants = calibration::constant_values(graph);
  auto is_activation = [&](const ir::Node& node, size_t slot) {
    return slot < node.inputs.size() && !node.inputs[slot].empty() && !constants.count(node.inputs[slot]);
  };
  std::vector<Target> targets;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& node = graph.nodes[i];
    if (!node.domain.empty() || !options.ops.count(node.op_type)) continue;
    if (options.exclude && (std::regex_search(node.name, *options.exclude) ||
                            (!node.outputs.empty() && std::regex_search(node.outputs[0], *options.exclude))))
      continue;
    if (options.include && !std::regex_search(node.name, *options.include) &&
        (node.outputs.empty() || !std::regex_search(node.outputs[0], *options.include)))
      continue;
    Target t;
    t.node = i;
    if (node.op_type == "MatMul" || node.op_type == "Gemm") {
      const bool a = is_activation(node, 0), b = is_activation(node, 1);
      if (a && b) {
        if (!options.act_act) continue;
        t.inputs = {0, 1};
      } else if (a || b) {
        t.inputs = {a ? size_t{0} : size_t{1}};
        t.weight_input = a ? 1 : 0;
      }
    } else if (node.op_type == "Conv" || node.op_type == "ConvTranspose") {
      if (is_activation(node, 0)) t.inputs = {0};
      t.weight_input = 1;
    } else {
      for (size_t s = 0; s < node.inputs.size(); ++s)
        if (is_activation(node, s)) t.inputs.push_back(s);
    }
    if (!t.inputs.empty()) targets.push_back(std::move(t));
  }
  return targets;
}

WeightSource weight_source(const ir::Graph& graph, const std::string& value) {
  WeightSource w;
  const Tensor* init = graph.find_initializer(value);
  bool overridable = false;
  for (const auto& in : graph.inputs) overridable |= in.name == value;
  if (init && !overridable) {
    if (init->dtype() == DType::kF32) {
      w.kind = WeightSource::Kind::kFloat;
      w.initializer = value;
    }
    return w;
  }
  const int p = producer_index(graph, value);
  if (p < 0) return w;
  const ir::Node& dq = graph.nodes[static_cast<size_t>(p)];
  if (dq.op_type != "DequantizeLinear" || !dq.domain.empty() || dq.attr_int("block_size", 0) != 0) return w;
  if (dq.inputs.size() < 2 || !graph.find_initializer(dq.inputs[0]) || !graph.find_initializer(dq.inputs[1])) return w;
  if (dq.has_input(2) && !graph.find_initializer(dq.inputs[2])) return w;
  const Tensor& q = *graph.find_initializer(dq.inputs[0]);
  int64_t axis = dq.attr_int("axis", 1);
  if (axis < 0) axis += q.rank();
  w.kind = WeightSource::Kind::kDequantized;
  w.initializer = dq.inputs[0];
  w.scale = dq.inputs[1];
  w.zero_point = dq.has_input(2) ? dq.inputs[2] : "";
  w.axis = axis;
  w.dq_node = p;
  return w;
}

}  // namespace ember::passes::act_quant
