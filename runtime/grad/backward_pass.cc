// BackwardInterpreter::forward and ::backward (backward_interpreter.h): the forward run that
// keeps what the rules read, and the reverse walk over the gradient path.
// Gradients live per value slot: tensors in one vector (the hot path), the gradients of
// sequences (SequenceGrad: one tensor per element) in a map beside it, used only when the
// forward pass produced sequences or optionals (layouts_ not empty). An optional holding a
// tensor has that tensor's shape and dtype, and a plain tensor gradient.
#include <algorithm>
#include <climits>

#include "runtime/grad/backward_interpreter.h"
#include "runtime/parallel.h"

namespace ember::runtime::grad {
namespace {

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

std::string input_name(const ir::Node& node, size_t j) {
  return "input " + std::to_string(j) + (j < node.inputs.size() ? " ('" + node.inputs[j] + "')" : std::string(" (an outer-scope value)"));
}

}  // namespace

Result<std::vector<Tensor>> BackwardInterpreter::forward(const std::map<std::string, Tensor>& feeds) {
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> values, forward_values(feeds));
  std::vector<Tensor> outputs;
  const std::vector<std::string> names = output_names();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i].is_tensor()) {
      forward_done_ = false;
      return invalid_input("output '" + names[i] + "' is a " + values[i].describe() + ", and this caller takes tensors only");
    }
    outputs.push_back(values[i].tensor());
  }
  return outputs;
}

Result<std::vector<Value>> BackwardInterpreter::forward_values(const std::map<std::string, Tensor>& feeds) {
  return forward_with_values(std::map<std::string, Value>(feeds.begin(), feeds.end()));
}

Result<std::vector<Value>> BackwardInterpreter::forward_with_values(const std::map<std::string, Value>& feeds) {
  const size_t slots = names_.size();
  saved_.assign(slots, Tensor());
  shapes_.assign(slots, Shape());
  dtypes_.assign(slots, DType::kUndefined);
  layouts_.clear();
  saved_others_.clear();
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
  // A sequence keeps only its layout; an optional holding a tensor is that tensor to the rules.
  auto record_other = [&](const std::string& name, const Value& value) {
    const int s = slot(name);
    if (s < 0) return Status::Ok();
    layouts_[s] = layout_of(value);
    if (is_saved_[size_t(s)] && !value.is_tensor()) saved_others_[s] = value;
    if (value.is_optional() && value.has_element() && value.element().is_tensor()) record(name, value.element().tensor());
    return Status::Ok();
  };
  for (const auto& [name, value] : feeds) {
    if (value.is_tensor()) record(name, value.tensor());
    else EMBER_TRY(record_other(name, value));
  }
  auto outputs = interp_->run_values(
      feeds,
      [&](const std::string& name, const Tensor& value) {
        record(name, value);
        return Status::Ok();
      },
      record_other);
  forward_done_ = outputs.ok();
  return outputs;
}

Status BackwardInterpreter::fill_context(size_t k, BackwardContext& ctx, const std::vector<Tensor>& grads,
                                         const std::unordered_map<int, SequenceGrad>& sequence_grads, bool& any_grad) {
  const NodeGradPlan& p = plan_.nodes[k];
  const ir::Node& node = ctx.node;
  const bool values = !layouts_.empty();
  auto layout = [&](int s) -> const ValueLayout* {
    if (!values || s < 0) return nullptr;
    auto it = layouts_.find(s);
    return it == layouts_.end() ? nullptr : &it->second;
  };
  any_grad = false;
  for (int s : node_outputs_[k]) {
    ctx.outputs.push_back(s >= 0 && saved_[size_t(s)].defined() ? &saved_[size_t(s)] : nullptr);
    ctx.output_shapes.push_back(s >= 0 ? shapes_[size_t(s)] : Shape());
    ctx.output_grads.push_back(s >= 0 && grads[size_t(s)].defined() ? &grads[size_t(s)] : nullptr);
    any_grad = any_grad || ctx.output_grads.back();
    if (!values) continue;
    ctx.output_layouts.push_back(layout(s));
    auto it = s >= 0 ? sequence_grads.find(s) : sequence_grads.end();
    ctx.output_sequence_grads.push_back(it == sequence_grads.end() ? nullptr : &it->second);
    if (ctx.output_sequence_grads.back() && !p.rule->takes_sequences)
      return unsupported("node '" + node.name + "' (" + node.op_type + "): output " + std::to_string(ctx.output_layouts.size() - 1) +
                         " is " + describe_layout(*ctx.output_layouts.back()) +
                         ", and its backward rule carries tensor gradients only");
    any_grad = any_grad || ctx.output_sequence_grads.back();
  }
  for (size_t j = 0; j < node_inputs_[k].size(); ++j) {
    const int s = node_inputs_[k][j];
    const Tensor* v = s < 0 ? nullptr : (constants_[size_t(s)] ? constants_[size_t(s)] : &saved_[size_t(s)]);
    if (v && !v->defined()) v = nullptr;
    const ValueLayout* l = layout(s);
    auto other = values && s >= 0 && p.rule->takes_sequences ? saved_others_.find(s) : saved_others_.end();
    const Value* sequence = other == saved_others_.end() ? nullptr : &other->second;
    if (s >= 0 && (p.needs.inputs & bit(j)) && !v && !sequence) {
      if (l) return unsupported("node '" + node.name + "' (" + node.op_type + "): " + input_name(node, j) + " is " + describe_layout(*l) +
                                ", and its backward rule reads tensors only");
      return internal_error("node '" + node.name + "': saved input " + std::to_string(j) + " is missing");
    }
    ctx.inputs.push_back(v);
    ctx.input_shapes.push_back(s >= 0 ? shapes_[size_t(s)] : Shape());
    if (values) ctx.input_layouts.push_back(l);
    if (values) ctx.input_values.push_back(sequence);
  }
  ctx.input_grads.resize(node_inputs_[k].size());
  ctx.factored_grads.resize(node_inputs_[k].size());
  if (values) ctx.input_sequence_grads.resize(node_inputs_[k].size());
  ctx.allocator = &grad_pool_;
  ctx.products = products_;
  for (size_t j = 0; j < node_inputs_[k].size() && j < kMaxIndices; ++j)
    if (node_inputs_[k][j] >= 0 && constants_[size_t(node_inputs_[k][j])]) ctx.constant_inputs |= bit(j);
  return Status::Ok();
}

Status BackwardInterpreter::accumulate_inputs(size_t k, BackwardContext& ctx, std::vector<Tensor>& grads,
                                              std::unordered_map<int, SequenceGrad>& sequence_grads) {
  const ir::Node& node = ctx.node;
  for (size_t j = 0; j < ctx.input_grads.size(); ++j) {
    Tensor& g = ctx.input_grads[j];
    const int s = node_inputs_[k][j];
    if (!g.defined() || s < 0 || !ctx.wants(j) || !is_float(dtypes_[size_t(s)])) continue;
    if (g.shape() != shapes_[size_t(s)] || g.dtype() != DType::kF32)
      return internal_error("backward of node '" + node.name + "' gave input " + std::to_string(j) + " a gradient of shape " +
                            shape_to_string(g.shape()) + ", expected " + shape_to_string(shapes_[size_t(s)]));
    Tensor& acc = grads[size_t(s)];
    acc = acc.defined() ? add_out_of_place(grad_pool_, acc, g) : std::move(g);
  }
  for (size_t j = 0; j < ctx.input_sequence_grads.size(); ++j) {
    auto& g = ctx.input_sequence_grads[j];
    const int s = node_inputs_[k][j];
    if (!g || s < 0 || !ctx.wants(j)) continue;
    auto layout = layouts_.find(s);
    if (layout == layouts_.end() || !layout->second.sequence)
      return internal_error("backward of node '" + node.name + "' gave " + input_name(node, j) + ", not a sequence, a sequence gradient");
    EMBER_TRY(accumulate_sequence_grad(grad_pool_, layout->second, sequence_grads[s], std::move(*g),
                                       "backward of node '" + node.name + "', " + input_name(node, j)));
  }
  return Status::Ok();
}

Status BackwardInterpreter::backward(const std::map<std::string, Tensor>& output_grads, const GradientSink& sink,
                                     const FactoredGradientSink& factored_sink,
                                     const std::map<std::string, SequenceGrad>& sequence_output_grads,
                                     const SequenceGradientSink& sequence_sink) {
  if (!forward_done_) return invalid_input("backward() needs a successful forward() first");
  forward_done_ = false;
  const ir::Graph& graph = interp_->model().graph;
  std::vector<Tensor> grads(names_.size());
  std::unordered_map<int, SequenceGrad> sequence_grads;  // of sequence values (and optionals holding one)
  for (const auto& [name, g] : output_grads) {
    const int s = slot(name);
    if (s < 0) return invalid_input("gradient given for unknown output '" + name + "'");
    if (g.dtype() != DType::kF32 || g.shape() != shapes_[size_t(s)])
      return invalid_input("the gradient of output '" + name + "' must be f32 " + shape_to_string(shapes_[size_t(s)]) +
                           ", got " + std::string(dtype_name(g.dtype())) + " " + shape_to_string(g.shape()));
    grads[size_t(s)] = g;
  }
  for (const auto& [name, g] : sequence_output_grads) {
    const int s = slot(name);
    auto layout = layouts_.find(s);
    if (s < 0 || layout == layouts_.end() || !layout->second.sequence)
      return invalid_input("a sequence gradient given for '" + name + "', which is not a sequence output");
    SequenceGrad copy = g;
    EMBER_TRY(accumulate_sequence_grad(grad_pool_, layout->second, sequence_grads[s], std::move(copy), "output '" + name + "'"));
  }
  std::map<int, FactoredGrad> factored;  // this node's factored weight gradients, by slot
  auto report = [&](int s) -> Status {
    if (sequence_sink && !sequence_grads.empty()) {  // a differentiated sequence
      auto q = sequence_grads.find(s);
      if (q != sequence_grads.end()) return sequence_sink(names_[size_t(s)], q->second);
    }
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
    EMBER_TRY(fill_context(k, ctx, grads, sequence_grads, any_grad));
    ctx.cache = &node_cache_[k];
    // A weight whose gradient only this node gives (no other consumer has added to it and it
    // is complete after this node) may come as factors, for a sink that takes them.
    for (size_t j = 0; factored_sink && j < node_inputs_[k].size() && j < kMaxIndices; ++j) {
      const int s = node_inputs_[k][j];
      if (s >= 0 && constants_[size_t(s)] && (p.wanted & bit(j)) && !grads[size_t(s)].defined() &&
          finalize_after_[size_t(s)] == static_cast<int>(k) &&
          std::count(node_inputs_[k].begin(), node_inputs_[k].end(), s) == 1)
        ctx.factorable |= bit(j);
    }
    if (any_grad) {
      EMBER_TRY(p.rule->backward(ctx).with_context("backward of node '" + node.name + "' (" + node.op_type + ")"));
      for (size_t j = 0; j < ctx.factored_grads.size(); ++j)
        if (ctx.factored_grads[j] && (ctx.factorable & bit(j))) factored.emplace(node_inputs_[k][j], std::move(*ctx.factored_grads[j]));
      EMBER_TRY(accumulate_inputs(k, ctx, grads, sequence_grads));
    }
    for (int s : node_outputs_[k])
      if (s >= 0) {
        grads[size_t(s)] = Tensor();
        if (!sequence_grads.empty()) sequence_grads.erase(s);
      }
    for (int s : finalize_at[k]) {
      EMBER_TRY(report(s));
      if (constants_[size_t(s)] || !grads[size_t(s)].defined()) grads[size_t(s)] = Tensor();
    }
    for (int s : release_at[k]) {
      saved_[size_t(s)] = Tensor();
      if (!saved_others_.empty()) saved_others_.erase(s);
    }
  }
  saved_.assign(names_.size(), Tensor());
  saved_others_.clear();
  return Status::Ok();
}

}  // namespace ember::runtime::grad
