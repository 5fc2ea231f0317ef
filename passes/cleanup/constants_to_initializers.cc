#include "passes/cleanup/constants_to_initializers.h"

#include "passes/graph_edit.h"

namespace ember::passes {
namespace {

// The Constant's value as a tensor; undefined for the forms that stay nodes (strings, sparse).
Result<Tensor> constant_value(const ir::Node& node) {
  if (node.attributes.size() != 1)
    return invalid_input("Constant node '" + node.name + "' has " + std::to_string(node.attributes.size()) +
                         " attributes; exactly one value attribute is allowed");
  const ir::Attribute& a = node.attributes[0];
  if (a.name == "value") {
    if (!a.t.defined() || a.t.dtype() == DType::kString) return Tensor();
    return a.t;
  }
  if (a.name == "value_float") return Tensor::scalar<float>(a.f);
  if (a.name == "value_floats") return Tensor::from_vector<float>({int64_t(a.floats.size())}, a.floats);
  if (a.name == "value_int") return Tensor::scalar<int64_t>(a.i);
  if (a.name == "value_ints") return Tensor::from_vector<int64_t>({int64_t(a.ints.size())}, a.ints);
  return Tensor();
}

ir::ValueInfo info_for(const std::string& name, const Tensor& t) {
  ir::ValueInfo vi;
  vi.name = name;
  vi.elem_type = t.dtype();
  vi.has_shape = true;
  for (int64_t d : t.shape()) vi.dims.push_back(ir::Dim{d, ""});
  return vi;
}

// Moves the Constants of one graph; `ir_below_4` adds each new initializer as a graph input.
Status move_constants(ir::Graph& graph, bool ir_below_4, size_t& moved, size_t& bytes) {
  const std::set<std::string> outputs = graph_output_names(graph);
  std::vector<ir::Node> kept;
  kept.reserve(graph.nodes.size());
  for (auto& node : graph.nodes) {
    const bool candidate = node.op_type == "Constant" && (node.domain.empty() || node.domain == "ai.onnx") &&
                           node.outputs.size() == 1 && !outputs.count(node.outputs[0]) &&
                           !graph.find_initializer(node.outputs[0]);
    if (!candidate) {
      kept.push_back(std::move(node));
      continue;
    }
    EMBER_ASSIGN_OR_RETURN(Tensor value, constant_value(node));
    if (!value.defined()) {
      kept.push_back(std::move(node));
      continue;
    }
    const std::string& name = node.outputs[0];
    bytes += value.nbytes();
    if (ir_below_4) graph.inputs.push_back(info_for(name, value));
    graph.set_initializer(name, std::move(value));
    std::erase_if(graph.value_info, [&](const ir::ValueInfo& v) { return v.name == name; });
    ++moved;
  }
  graph.nodes = std::move(kept);
  return Status::Ok();
}

}  // namespace

Status ConstantsToInitializers::run(ir::Model& model, PassContext& ctx) {
  size_t moved = 0, bytes = 0;
  EMBER_TRY(move_constants(model.graph, model.ir_version < 4, moved, bytes));
  // Subgraph bodies (If, Loop, Scan) hold initializers of their own from IR 4 on.
  if (model.ir_version >= 4) {
    Status status = Status::Ok();
    ir::for_each_graph(model.graph, [&](ir::Graph& g) {
      if (&g != &model.graph && status.ok()) status = move_constants(g, false, moved, bytes);
    });
    EMBER_TRY(status);
  }
  ctx.remarks.count(name(), "constants-moved", double(moved));
  ctx.remarks.count(name(), "bytes-moved", double(bytes));
  return Status::Ok();
}

}  // namespace ember::passes
