#include "runtime/grad/backward_interpreter.h"

#include <algorithm>
#include <climits>
#include <set>

#include "runtime/optimizer/graph_simplify.h"
#include "runtime/kernel.h"
#include "runtime/parallel.h"

namespace ember::runtime::grad {
namespace {

constexpr int kNotReported = -2;
constexpr int kAtSeeding = -1;

bool is_float(DType d) { return traits(d).is_float; }

// out = a + b in a new buffer: either operand may be a view shared with another gradient.
Tensor add_out_of_place(TensorAllocator& pool, const Tensor& a, const Tensor& b) {
  Tensor out = pool.allocate(DType::kF32, a.shape());
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  float* z = out.mutable_data<float>();
  parallel_for(out.numel(), int64_t{1} << 15, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) z[i] = x[i] + y[i];
  });
  return out;
}

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

Result<std::vector<Tensor>> BackwardInterpreter::forward(const std::map<std::string, Tensor>& feeds) {
  const size_t slots = names_.size();
  saved_.assign(slots, Tensor());
  shapes_.assign(slots, Shape());
  dtypes_.assign(slots, DType::kUndefined);
  for (size_t s = 0; s < slots; ++s)
    if (constants_[s]) {
      shapes_[s] = constants_[s]->shape();
      dtypes_[s] = constants_[s]->dtype();
    }
  auto record = [&](const std::string& name, const Tensor& value) {
    const int s = slot(name);
    if (s < 0) return;
    shapes_[size_t(s)] = value.shape();
    dtypes_[size_t(s)] = value.dtype();
    if (is_saved_[size_t(s)]) saved_[size_t(s)] = value;  // shares the bytes, keeping them alive
  };
  for (const auto& [name, tensor] : feeds) record(name, tensor);
  auto outputs = interp_->run(feeds, [&](const std::string& name, const Tensor& value) {
    record(name, value);
    return Status::Ok();
  });
  forward_done_ = outputs.ok();
  return outputs;
}

Status BackwardInterpreter::backward(const std::map<std::string, Tensor>& output_grads, const GradientSink& sink,
                                     const FactoredGradientSink& factored_sink) {
  if (!forward_done_) return invalid_input("backward() needs a successful forward() first");
  forward_done_ = false;
  const ir::Graph& graph = interp_->model().graph;
  std::vector<Tensor> grads(names_.size());
  for (const auto& [name, g] : output_grads) {
    const int s = slot(name);
    if (s < 0) return invalid_input("gradient given for unknown output '" + name + "'");
    if (g.dtype() != DType::kF32 || g.shape() != shapes_[size_t(s)])
      return invalid_input("the gradient of output '" + name + "' must be f32 " + shape_to_string(shapes_[size_t(s)]) +
                           ", got " + std::string(dtype_name(g.dtype())) + " " + shape_to_string(g.shape()));
    grads[size_t(s)] = g;
  }
  std::map<int, FactoredGrad> factored;  // this node's factored weight gradients, by slot
  auto report = [&](int s) -> Status {
    auto f = factored.find(s);
    if (f != factored.end()) {
      Status st = factored_sink(names_[size_t(s)], f->second);
      factored.erase(f);
      return st;
    }
    if (!grads[size_t(s)].defined() || !sink) return Status::Ok();
    return sink(names_[size_t(s)], grads[size_t(s)]);
  };
  for (size_t s = 0; s < names_.size(); ++s)
    if (finalize_after_[s] == kAtSeeding) EMBER_TRY(report(static_cast<int>(s)));
  std::vector<std::vector<int>> finalize_at(graph.nodes.size()), release_at(graph.nodes.size());
  for (size_t s = 0; s < names_.size(); ++s) {
    if (finalize_after_[s] >= 0) finalize_at[size_t(finalize_after_[s])].push_back(static_cast<int>(s));
    if (release_saved_after_[s] != INT_MAX) release_at[size_t(release_saved_after_[s])].push_back(static_cast<int>(s));
  }
  for (size_t k = graph.nodes.size(); k-- > 0;) {
    const NodeGradPlan& p = plan_.nodes[k];
    if (!p.on_path) continue;
    const ir::Node& node = graph.nodes[k];
    BackwardContext ctx{node, interp_->model().opset_version(node.domain), {}, {}, {}, {}, {}, p.wanted, {}};
    bool any_grad = false;
    for (int s : node_outputs_[k]) {
      ctx.outputs.push_back(s >= 0 && saved_[size_t(s)].defined() ? &saved_[size_t(s)] : nullptr);
      ctx.output_shapes.push_back(s >= 0 ? shapes_[size_t(s)] : Shape());
      ctx.output_grads.push_back(s >= 0 && grads[size_t(s)].defined() ? &grads[size_t(s)] : nullptr);
      any_grad = any_grad || ctx.output_grads.back();
    }
    for (size_t j = 0; j < node_inputs_[k].size(); ++j) {
      const int s = node_inputs_[k][j];
      const Tensor* v = s < 0 ? nullptr : (constants_[size_t(s)] ? constants_[size_t(s)] : &saved_[size_t(s)]);
      if (v && !v->defined()) v = nullptr;
      if (s >= 0 && (p.needs.inputs & bit(j)) && !v)
        return internal_error("node '" + node.name + "': saved input " + std::to_string(j) + " is missing");
      ctx.inputs.push_back(v);
      ctx.input_shapes.push_back(s >= 0 ? shapes_[size_t(s)] : Shape());
    }
    ctx.input_grads.resize(node_inputs_[k].size());
    ctx.factored_grads.resize(node_inputs_[k].size());
    // A weight whose gradient only this node gives (no other consumer has added to it and it
    // is complete after this node) may come as factors, for a sink that takes them.
    for (size_t j = 0; factored_sink && j < node_inputs_[k].size() && j < kMaxIndices; ++j) {
      const int s = node_inputs_[k][j];
      if (s >= 0 && constants_[size_t(s)] && (p.wanted & bit(j)) && !grads[size_t(s)].defined() &&
          finalize_after_[size_t(s)] == static_cast<int>(k) &&
          std::count(node_inputs_[k].begin(), node_inputs_[k].end(), s) == 1)
        ctx.factorable |= bit(j);
    }
    ctx.allocator = &grad_pool_;
    ctx.cache = &node_cache_[k];
    ctx.products = products_;
    for (size_t j = 0; j < node_inputs_[k].size() && j < kMaxIndices; ++j)
      if (node_inputs_[k][j] >= 0 && constants_[size_t(node_inputs_[k][j])]) ctx.constant_inputs |= bit(j);
    if (any_grad) {
      EMBER_TRY(p.rule->backward(ctx).with_context("backward of node '" + node.name + "' (" + node.op_type + ")"));
      for (size_t j = 0; j < ctx.factored_grads.size(); ++j)
        if (ctx.factored_grads[j] && (ctx.factorable & bit(j))) factored.emplace(node_inputs_[k][j], std::move(*ctx.factored_grads[j]));
      for (size_t j = 0; j < ctx.input_grads.size(); ++j) {
        Tensor& g = ctx.input_grads[j];
        const int s = node_inputs_[k][j];
        if (!g.defined() || s < 0 || !(p.wanted & bit(j)) || !is_float(dtypes_[size_t(s)])) continue;
        if (g.shape() != shapes_[size_t(s)] || g.dtype() != DType::kF32)
          return internal_error("backward of node '" + node.name + "' gave input " + std::to_string(j) + " a gradient of shape " +
                                shape_to_string(g.shape()) + ", expected " + shape_to_string(shapes_[size_t(s)]));
        Tensor& acc = grads[size_t(s)];
        acc = acc.defined() ? add_out_of_place(grad_pool_, acc, g) : std::move(g);
      }
    }
    for (int s : node_outputs_[k])
      if (s >= 0) grads[size_t(s)] = Tensor();
    for (int s : finalize_at[k]) {
      EMBER_TRY(report(s));
      if (constants_[size_t(s)] || !grads[size_t(s)].defined()) grads[size_t(s)] = Tensor();
    }
    for (int s : release_at[k]) saved_[size_t(s)] = Tensor();
  }
  saved_.assign(names_.size(), Tensor());
  return Status::Ok();
}

}  // namespace ember::runtime::grad
