#include "runtime/grad/backward_interpreter.h"

#include <algorithm>
#include <climits>
#include <set>

#include "runtime/optimizer/graph_simplify.h"
#include "runtime/kernel.h"

namespace ember::runtime::grad {
namespace {

// Float Constants (and initializers) of `min_elements` or more inside subgraph bodies (If,
// Loop, Scan, nested) become initializers of the main graph: the body then reads them as
// outer-scope values, the same values, so a weight an exporter kept inside a branch (Silero
// VAD v5) or a loop body is differentiated through the If's (Loop's, Scan's) rule like one
// read from outside. A name already defined is left in place.
void hoist_body_constants(ir::Graph& body, ir::Graph& main, int64_t min_elements, std::set<std::string>& defined) {
  const std::vector<std::string> body_initializers = body.initializer_order;
  for (const auto& name : body_initializers) {
    const Tensor* t = body.find_initializer(name);
    const bool is_input = std::any_of(body.inputs.begin(), body.inputs.end(), [&](const ir::ValueInfo& v) { return v.name == name; });
    if (!t || is_input || t->dtype() != DType::kF32 || t->numel() < min_elements || !defined.insert(name).second) continue;
    main.set_initializer(name, *t);
    body.remove_initializer(name);
  }
  std::vector<ir::Node> kept;
  for (auto& node : body.nodes) {
    for (auto& a : node.attributes) {
      if (a.g) hoist_body_constants(*a.g, main, min_elements, defined);
      for (auto& g : a.graphs) hoist_body_constants(*g, main, min_elements, defined);
    }
    const ir::Attribute* value = node.op_type == "Constant" && node.domain.empty() ? node.find_attr("value") : nullptr;
    if (value && value->kind == ir::AttrKind::kTensor && value->t.dtype() == DType::kF32 && value->t.numel() >= min_elements &&
        node.outputs.size() == 1 && defined.insert(node.outputs[0]).second) {
      main.set_initializer(node.outputs[0], value->t);
      continue;
    }
    kept.push_back(std::move(node));
  }
  body.nodes = std::move(kept);
}

void hoist_body_constants(ir::Graph& graph, int64_t min_elements) {
  std::set<std::string> defined(graph.initializer_order.begin(), graph.initializer_order.end());
  for (const auto& in : graph.inputs) defined.insert(in.name);
  for (const auto& node : graph.nodes) defined.insert(node.outputs.begin(), node.outputs.end());
  for (auto& node : graph.nodes)
    for (auto& a : node.attributes) {
      if (a.g) hoist_body_constants(*a.g, graph, min_elements, defined);
      for (auto& g : a.graphs) hoist_body_constants(*g, graph, min_elements, defined);
    }
}

}  // namespace

Result<PreparedModel> prepare_for_gradients(const ir::Model& model, const GradientOptions& options) {
  PreparedModel prepared;
  prepared.model = model;
  ir::Graph& graph = prepared.model.graph;
  std::vector<ir::Node> kept;
  for (auto& node : graph.nodes) {
    const ir::Attribute* value = node.op_type == "Constant" && node.domain.empty() ? node.find_attr("value") : nullptr;
    if (value && value->kind == ir::AttrKind::kTensor && node.outputs.size() == 1) {
      graph.set_initializer(node.outputs[0], value->t);
      continue;
    }
    kept.push_back(std::move(node));
  }
  graph.nodes = std::move(kept);
  hoist_body_constants(graph, std::max<int64_t>(options.min_parameter_elements, 2));
  if (options.parameters.empty()) {
    for (const auto& name : graph.initializer_order) {
      const Tensor& t = graph.initializers.at(name);
      if (t.dtype() == DType::kF32 && t.numel() >= options.min_parameter_elements) prepared.parameters.push_back(name);
    }
  } else {
    for (const auto& name : options.parameters) {
      const Tensor* t = graph.find_initializer(name);
      if (!t) return invalid_input("'" + name + "' is not a weight (initializer or Constant) of the model");
      if (t->dtype() != DType::kF32)
        return unsupported("weight '" + name + "' is " + std::string(dtype_name(t->dtype())) + "; gradients need f32");
      prepared.parameters.push_back(name);
    }
  }
  // Hidden weights are not constant to the folder, so nothing that reads them is folded.
  std::map<std::string, Tensor> hidden;
  for (const auto& name : prepared.parameters) {
    hidden[name] = *graph.find_initializer(name);
    graph.remove_initializer(name);
  }
  auto stats = simplify_for_execution(prepared.model, default_registry());
  if (!stats.ok()) return stats.status();
  for (const auto& name : prepared.parameters) graph.set_initializer(name, hidden.at(name));
  return prepared;
}

Result<std::unique_ptr<BackwardInterpreter>> BackwardInterpreter::create(const ir::Model& model,
                                                                         const GradientOptions& options) {
  std::unique_ptr<BackwardInterpreter> b(new BackwardInterpreter());
  EMBER_TRY(b->build(model, options));
  return b;
}

int BackwardInterpreter::slot(const std::string& name) const {
  auto it = slot_of_.find(name);
  return it == slot_of_.end() ? -1 : it->second;
}

Status BackwardInterpreter::build(const ir::Model& model, const GradientOptions& options) {
  EMBER_ASSIGN_OR_RETURN(PreparedModel prepared, prepare_for_gradients(model, options));
  parameters_ = prepared.parameters;
  InterpreterOptions io;
  io.threads = options.threads;
  products_ = options.products;
  io.fold_constants = false;  // already folded, with the weights shielded
  // GELU subgraphs run as one fused op with its own backward rule (from x alone), unless the
  // caller asked for the gradient of an intermediate value, which fusion could hide.
  io.fuse_gelu = std::all_of(options.activations.begin(), options.activations.end(), [&](const std::string& name) {
    const auto& inputs = prepared.model.graph.inputs;
    return std::any_of(inputs.begin(), inputs.end(), [&](const ir::ValueInfo& in) { return in.name == name; });
  });
  EMBER_ASSIGN_OR_RETURN(interp_, Interpreter::create(prepared.model, io));
  const ir::Graph& graph = interp_->model().graph;

  auto add_slot = [&](const std::string& name) {
    auto [it, inserted] = slot_of_.emplace(name, static_cast<int>(names_.size()));
    if (inserted) names_.push_back(name);
    return it->second;
  };
  for (const auto& name : graph.initializer_order) add_slot(name);
  for (const auto& in : graph.inputs) add_slot(in.name);
  for (const auto& node : graph.nodes) {
    node_inputs_.emplace_back();
    node_outputs_.emplace_back();
    for (const auto& in : node.inputs) node_inputs_.back().push_back(in.empty() ? -1 : add_slot(in));
    for (const auto& out : node.outputs) node_outputs_.back().push_back(out.empty() ? -1 : add_slot(out));
  }
  const size_t slots = names_.size();
  constants_.assign(slots, nullptr);
  for (const auto& [name, tensor] : graph.initializers) constants_[static_cast<size_t>(slot(name))] = &tensor;

  std::set<std::string> sources(parameters_.begin(), parameters_.end());
  for (const auto& name : options.activations) {
    if (slot(name) < 0) return invalid_input("the model has no value named '" + name + "'");
    sources.insert(name);
  }
  std::set<std::string> seeded(options.seeded_outputs.begin(), options.seeded_outputs.end());
  const std::vector<std::string> outputs = interp_->output_names();
  if (seeded.empty()) seeded.insert(outputs.begin(), outputs.end());
  for (const auto& name : seeded)
    if (std::find(outputs.begin(), outputs.end(), name) == outputs.end())
      return invalid_input("'" + name + "' is not an output of the model");
  EMBER_ASSIGN_OR_RETURN(plan_, plan_gradients(graph, sources, seeded, default_grad_registry()));

  node_cache_.assign(graph.nodes.size(), nullptr);
  for (size_t k = 0; k < graph.nodes.size(); ++k) {  // rules fused over several nodes
    const NodeGradPlan& p = plan_.nodes[k];
    if (p.inputs.empty()) continue;
    node_inputs_[k].clear();
    for (const auto& name : p.inputs) node_inputs_[k].push_back(slot(name));
    node_cache_[k] = p.state;
  }
  is_saved_.assign(slots, false);
  for (const auto& name : plan_.saved_values) is_saved_[static_cast<size_t>(slot(name))] = true;
  reported_.assign(slots, false);
  finalize_after_.assign(slots, kNotReported);
  release_saved_after_.assign(slots, INT_MAX);
  for (const auto& name : sources) {
    reported_[static_cast<size_t>(slot(name))] = true;
    finalize_after_[static_cast<size_t>(slot(name))] = kAtSeeding;
  }
  // Backward visits nodes in reverse, so a value's gradient is complete after its first
  // (lowest-index) consumer on the path, and a saved value dies after its first reader.
  for (size_t k = graph.nodes.size(); k-- > 0;) {
    const NodeGradPlan& p = plan_.nodes[k];
    if (!p.on_path) continue;
    for (size_t j = 0; j < node_inputs_[k].size(); ++j) {
      const int s = node_inputs_[k][j];
      if (s < 0) continue;
      if ((p.wanted & bit(j)) && reported_[size_t(s)]) finalize_after_[size_t(s)] = static_cast<int>(k);
      if ((p.needs.inputs & bit(j)) && is_saved_[size_t(s)]) release_saved_after_[size_t(s)] = static_cast<int>(k);
    }
    for (size_t j = 0; j < node_outputs_[k].size(); ++j) {
      const int s = node_outputs_[k][j];
      if (s >= 0 && (p.needs.outputs & bit(j))) release_saved_after_[size_t(s)] = std::min(release_saved_after_[size_t(s)], static_cast<int>(k));
    }
  }
  return Status::Ok();
}

const Tensor& BackwardInterpreter::parameter_value(const std::string& name) const {
  static const Tensor kEmpty;
  const int s = slot(name);
  return s >= 0 && constants_[size_t(s)] ? *constants_[size_t(s)] : kEmpty;
}

size_t BackwardInterpreter::saved_bytes() const {
  size_t total = 0;
  for (const auto& t : saved_) total += t.nbytes();
  return total;
}

std::optional<Shape> BackwardInterpreter::value_shape(const std::string& name) const {
  const int s = slot(name);
  if (s < 0 || size_t(s) >= dtypes_.size() || dtypes_[size_t(s)] == DType::kUndefined) return std::nullopt;
  return shapes_[size_t(s)];
}

int64_t BackwardInterpreter::path_nodes() const {
  return std::count_if(plan_.nodes.begin(), plan_.nodes.end(), [](const NodeGradPlan& p) { return p.on_path; });
}

}  // namespace ember::runtime::grad
