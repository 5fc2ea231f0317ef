#include "runtime/interpreter.h"

#include <set>

#include "runtime/optimizer/graph_simplify.h"
#include "runtime/kernel_guard.h"
#include "runtime/parallel.h"
#include "runtime/optimizer/rewrite_channels_last.h"
#include "runtime/optimizer/rewrite_float.h"
#include "runtime/optimizer/rewrite_integer.h"
#include "runtime/subgraph.h"
#include "runtime/value_kernel.h"

namespace ember::runtime {

Result<std::unique_ptr<Interpreter>> Interpreter::create(const ir::Model& model, const InterpreterOptions& options) {
  std::unique_ptr<Interpreter> interp(new Interpreter());
  interp->model_ = model;
  interp->packs_ = options.packs;
  const KernelRegistry& registry = options.registry ? *options.registry : default_registry();
  set_num_threads(options.threads);
  const BodyKernelScope bodies(options.integer_kernels);  // the bodies' interpreters follow this one
  // Before folding, which would dequantize constant weights back to float.
  if (options.integer_kernels) {
    auto rewritten = rewrite_integer_kernels(interp->model_, registry);
    if (!rewritten.ok()) return rewritten.status();
  }
  if (options.fold_constants) {  // first, so that Ifs with a constant condition are inlined
    auto stats = simplify_for_execution(interp->model_, registry);
    if (!stats.ok()) return stats.status();
  }
  if (options.fuse_float || options.fuse_gelu) {  // after folding, which makes transposed or reshaped weights constants
    auto fused = fuse_float_patterns(interp->model_, registry,
                                     options.fuse_float ? FloatFusionScope::kAll : FloatFusionScope::kGeluOnly);
    if (!fused.ok()) return fused.status();
  }
  if (options.fuse_float) {  // after the fusions, on the graph that runs: activations between convs stay NHWC
    auto layout = rewrite_channels_last(interp->model_, registry);
    if (!layout.ok()) return layout.status();
  }
  EMBER_TRY(interp->check_supported(registry));
  EMBER_TRY(interp->plan(registry));
  return interp;
}

Status Interpreter::check_supported(const KernelRegistry& registry) const {
  // Every op must have a kernel; list all that do not, not just the first.
  std::set<std::string> missing;
  for (const auto& node : model_.graph.nodes) {
    if (!registry.find(node.op_type, node.domain, model_.opset_version(node.domain))) {
      const std::string domain = node.domain.empty() ? "ai.onnx" : node.domain;
      missing.insert(node.op_type + " (domain " + domain + ", opset " +
                     std::to_string(model_.opset_version(node.domain)) + ")");
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return unsupported("unsupported operators: " + list);
  }
  return Status::Ok();
}

namespace {

// Whether `node`'s outputs follow from the shapes of the feeds alone (see Interpreter::Step).
bool computes_from_shapes(const ir::Node& node, const std::vector<int>& inputs, const std::vector<bool>& shape_static,
                          const std::set<int>& feed_slots) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  for (const auto& a : node.attributes)
    if (a.kind == ir::AttrKind::kGraph || a.kind == ir::AttrKind::kGraphs) return false;  // implicit inputs
  const std::string& op = node.op_type;
  if (op.rfind("Random", 0) == 0 || op == "Bernoulli" || op == "Multinomial") return false;
  auto known = [&](int s) { return s >= 0 && static_cast<size_t>(s) < shape_static.size() && shape_static[size_t(s)]; };
  if ((op == "Shape" || op == "Size") && !inputs.empty() && inputs[0] >= 0)
    return known(inputs[0]) || feed_slots.count(inputs[0]) > 0;
  bool any = false;
  for (int s : inputs) {
    if (s < 0) continue;
    if (!known(s)) return false;
    any = true;
  }
  return any;
}

}  // namespace

Status Interpreter::plan(const KernelRegistry& registry) {
  const ir::Graph& graph = model_.graph;
  slot_of_.clear();
  constants_.clear();
  steps_.clear();
  auto slot = [&](const std::string& name) {
    auto [it, inserted] = slot_of_.emplace(name, static_cast<int>(constants_.size()));
    if (inserted) constants_.emplace_back();
    return it->second;
  };
  for (const auto& name : graph.initializer_order) constants_[static_cast<size_t>(slot(name))] = graph.initializers.at(name);
  feed_inputs_ = graph.feed_inputs();
  for (const auto* in : feed_inputs_) slot(in->name);

  // Shape-static values: constants, Shape / Size of a feed or of a shape-static value, and
  // what deterministic ops without subgraphs compute from those alone.
  std::vector<bool> shape_static;
  std::set<int> feed_slots;
  for (const auto* in : feed_inputs_) feed_slots.insert(slot_of_.at(in->name));
  for (const Tensor& c : constants_) shape_static.push_back(c.defined());
  std::vector<int> last_reader;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& node = graph.nodes[i];
    Step step;
    step.node = &node;
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        step.inputs.push_back(-1);
        continue;
      }
      auto it = slot_of_.find(in);
      if (it == slot_of_.end())
        return invalid_input("node '" + node.name + "' (" + node.op_type + ") reads '" + in + "', which is not defined before it");
      step.inputs.push_back(it->second);
    }
    if (has_subgraph(node))  // outer-scope values read by its bodies: planned like inputs (subgraph.h)
      for (const auto& name : outer_scope_reads(node)) {
        auto it = slot_of_.find(name);
        if (it == slot_of_.end())
          return invalid_input("node '" + node.name + "' (" + node.op_type + "): its subgraph reads '" + name +
                               "', which no enclosing graph defines before it");
        step.inputs.push_back(it->second);
      }
    for (const auto& out : node.outputs) step.outputs.push_back(out.empty() ? -1 : slot(out));
    const int64_t opset = model_.opset_version(node.domain);
    step.kernel = registry.find(node.op_type, node.domain, opset)->make();
    step.value_kernel = dynamic_cast<ValueKernel*>(step.kernel.get());
    shape_static.resize(constants_.size(), false);
    step.shape_static = !makes_non_tensor_values(node) && computes_from_shapes(node, step.inputs, shape_static, feed_slots);
    for (int s : step.outputs)
      if (s >= 0) shape_static[static_cast<size_t>(s)] = step.shape_static;
    last_reader.resize(constants_.size(), -1);
    for (int s : step.inputs)
      if (s >= 0) last_reader[static_cast<size_t>(s)] = static_cast<int>(i);
    PrepareContext prepare{node, opset, {}, packs_};
    for (int s : step.inputs)
      prepare.constant_inputs.push_back(s >= 0 && constants_[static_cast<size_t>(s)].defined() ? &constants_[static_cast<size_t>(s)] : nullptr);
    EMBER_TRY(prepare_kernel(*step.kernel, prepare));
    steps_.push_back(std::move(step));
  }
  output_slots_.clear();
  for (const auto& out : graph.outputs) {
    auto it = slot_of_.find(out.name);
    if (it == slot_of_.end()) return invalid_input("graph output '" + out.name + "' is never produced");
    output_slots_.push_back(it->second);
  }
  // Release each intermediate after its last reader, except graph outputs and constants.
  last_reader.resize(constants_.size(), -1);
  std::set<int> outputs(output_slots_.begin(), output_slots_.end());
  for (size_t s = 0; s < last_reader.size(); ++s)
    if (last_reader[s] >= 0 && !outputs.count(static_cast<int>(s)) && !constants_[s].defined())
      steps_[static_cast<size_t>(last_reader[s])].release_after.push_back(static_cast<int>(s));
  return Status::Ok();
}

std::vector<std::string> Interpreter::output_names() const {
  std::vector<std::string> names;
  for (const auto& out : model_.graph.outputs) names.push_back(out.name);
  return names;
}

}  // namespace ember::runtime
