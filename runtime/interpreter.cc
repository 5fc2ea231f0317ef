#include "runtime/interpreter.h"

#include <set>

#include "runtime/optimizer/graph_simplify.h"
#include "runtime/kernel_guard.h"
#include "runtime/parallel.h"
#include "runtime/optimizer/rewrite_float.h"
#include "runtime/optimizer/rewrite_integer.h"
#include "runtime/subgraph.h"

namespace ember::runtime {

Result<std::unique_ptr<Interpreter>> Interpreter::create(const ir::Model& model, const InterpreterOptions& options) {
  std::unique_ptr<Interpreter> interp(new Interpreter());
  interp->model_ = model;
  interp->packs_ = options.packs;
  const KernelRegistry& registry = options.registry ? *options.registry : default_registry();
  set_num_threads(options.threads);
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
    shape_static.resize(constants_.size(), false);
    step.shape_static = computes_from_shapes(node, step.inputs, shape_static, feed_slots);
    for (int s : step.outputs)
      if (s >= 0) shape_static[static_cast<size_t>(s)] = step.shape_static;
    last_reader.resize(constants_.size(), -1);
    for (int s : step.inputs)
      if (s >= 0) last_reader[static_cast<size_t>(s)] = static_cast<int>(i);
    const int64_t opset = model_.opset_version(node.domain);
    step.kernel = registry.find(node.op_type, node.domain, opset)->make();
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

Status Interpreter::check_feed(const ir::ValueInfo& info, const Tensor& tensor) const {
  std::string expected = std::string(dtype_name(info.elem_type)) + " [";
  for (size_t i = 0; i < info.dims.size(); ++i)
    expected += (i ? ", " : "") + (info.dims[i].value >= 0 ? std::to_string(info.dims[i].value)
                                                          : (info.dims[i].param.empty() ? "?" : info.dims[i].param));
  expected += "]";
  const std::string got = std::string(dtype_name(tensor.dtype())) + " " + shape_to_string(tensor.shape());
  if (info.elem_type != DType::kUndefined && tensor.dtype() != info.elem_type)
    return invalid_input("input '" + info.name + "' expects " + expected + ", got " + got);
  if (!info.has_shape) return Status::Ok();
  bool match = info.dims.size() == tensor.shape().size();
  for (size_t i = 0; match && i < info.dims.size(); ++i)
    match = info.dims[i].value < 0 || info.dims[i].value == tensor.shape()[i];
  if (!match) return invalid_input("input '" + info.name + "' expects " + expected + ", got " + got);
  return Status::Ok();
}

Result<std::vector<Tensor>> Interpreter::execute(const std::map<std::string, Tensor>& feeds,
                                                 const ValueObserver& observer, const std::vector<int>& keep_slots) {
  std::vector<Tensor> values = constants_;
  for (const auto& [name, tensor] : feeds) {
    auto it = slot_of_.find(name);
    const ir::ValueInfo* info = nullptr;
    for (const auto* in : feed_inputs_)
      if (in->name == name) info = in;
    if (it == slot_of_.end() || !info) {
      std::string names;
      for (const auto* in : feed_inputs_) names += (names.empty() ? "" : ", ") + in->name;
      return invalid_input("the model has no input named '" + name + "' (inputs: " + names + ")");
    }
    EMBER_TRY(check_feed(*info, tensor));
    values[static_cast<size_t>(it->second)] = tensor;
  }
  for (const auto* in : feed_inputs_)
    if (!feeds.count(in->name)) return invalid_input("input '" + in->name + "' was not fed");
  std::set<int> keep(keep_slots.begin(), keep_slots.end());
  // Shape-static steps are taken from the last run when the feeds' shapes are the same (an
  // observer still sees their values).
  std::vector<Shape> shapes;
  for (const auto* in : feed_inputs_) shapes.push_back(values[static_cast<size_t>(slot_of_.at(in->name))].shape());
  const bool reuse = static_valid_ && shapes == static_for_shapes_;
  std::vector<std::vector<Tensor>> statics(reuse ? 0 : steps_.size());
  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& step = steps_[i];
    if (reuse && step.shape_static) {
      for (size_t o = 0; o < step.outputs.size(); ++o) {
        if (step.outputs[o] < 0) continue;
        if (observer) EMBER_TRY(observer(step.node->outputs[o], static_outputs_[i][o]));
        values[static_cast<size_t>(step.outputs[o])] = static_outputs_[i][o];
      }
      for (int s : step.release_after)
        if (!keep.count(s)) values[static_cast<size_t>(s)] = Tensor();
      continue;
    }
    inputs.clear();
    for (int s : step.inputs) inputs.push_back(s >= 0 && values[static_cast<size_t>(s)].defined() ? &values[static_cast<size_t>(s)] : nullptr);
    outputs.assign(step.outputs.size(), Tensor());
    RunContext ctx{*step.node, inputs, outputs, pool_};
    EMBER_TRY(run_kernel(*step.kernel, ctx));
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      if (step.outputs[o] < 0) continue;
      if (!outputs[o].defined())
        return internal_error(ctx.where() + " did not produce output " + std::to_string(o));
      if (observer) EMBER_TRY(observer(step.node->outputs[o], outputs[o]));
      values[static_cast<size_t>(step.outputs[o])] = std::move(outputs[o]);
    }
    if (!statics.empty() && step.shape_static)
      for (int s : step.outputs) statics[i].push_back(s >= 0 ? values[static_cast<size_t>(s)] : Tensor());
    for (int s : step.release_after)
      if (!keep.count(s)) values[static_cast<size_t>(s)] = Tensor();
  }
  if (!statics.empty()) {  // a complete run: its shape-static values serve the next ones
    static_outputs_ = std::move(statics);
    static_for_shapes_ = std::move(shapes);
    static_valid_ = true;
  }
  std::vector<Tensor> result;
  for (int s : keep_slots) result.push_back(values[static_cast<size_t>(s)]);
  return result;
}

Result<std::vector<Tensor>> Interpreter::run(const std::map<std::string, Tensor>& feeds, const ValueObserver& observer) {
  return execute(feeds, observer, output_slots_);
}

Result<std::map<std::string, Tensor>> Interpreter::run_and_fetch(const std::map<std::string, Tensor>& feeds,
                                                                 const std::vector<std::string>& names) {
  std::vector<int> slots;
  for (const auto& name : names) {
    auto it = slot_of_.find(name);
    if (it == slot_of_.end()) return invalid_input("the model has no value named '" + name + "'");
    slots.push_back(it->second);
  }
  EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> values, execute(feeds, nullptr, slots));
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = values[i];
  return out;
}

std::vector<std::string> Interpreter::output_names() const {
  std::vector<std::string> names;
  for (const auto& out : model_.graph.outputs) names.push_back(out.name);
  return names;
}

}  // namespace ember::runtime
