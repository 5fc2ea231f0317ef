// Interpreter::run and its variants: binds the feeds to slots, runs the planned steps, frees
// each intermediate after its last reader. Tensors live in one vector per slot (the hot path
// of every model); sequences and optionals, rare, in a map beside it, so tensor-only models
// pay one empty() test per step for them.
#include <set>

#include "ir/memory_limits.h"

#include "runtime/interpreter.h"
#include "runtime/kernel_guard.h"
#include "runtime/type_proto_wire.h"
#include "runtime/value_kernel.h"

namespace ember::runtime {

struct Interpreter::Frame {
  std::vector<Tensor> values;   // per slot; undefined where `others` holds the value
  std::map<int, Value> others;  // slots holding a sequence or an optional
  std::set<int> keep;           // slots returned to the caller: never released
  std::vector<const Tensor*> inputs;  // scratch for one step
  std::vector<Tensor> outputs;

  Value value_at(int s) const {
    if (s < 0) return Value();
    auto it = others.find(s);
    return it != others.end() ? it->second : Value(values[static_cast<size_t>(s)]);
  }
  void store(int s, Value v) {
    if (v.is_tensor()) {
      values[static_cast<size_t>(s)] = v.tensor();
      if (!others.empty()) others.erase(s);
    } else {
      values[static_cast<size_t>(s)] = Tensor();
      others[s] = std::move(v);
    }
  }
  void release(int s) {
    if (keep.count(s)) return;
    values[static_cast<size_t>(s)] = Tensor();
    if (!others.empty()) others.erase(s);
  }
};

namespace {

std::string expected_type(const ir::ValueInfo& info) {
  if (!info.is_tensor) return "a sequence or an optional";
  std::string expected = std::string(dtype_name(info.elem_type)) + " [";
  for (size_t i = 0; i < info.dims.size(); ++i)
    expected += (i ? ", " : "") + (info.dims[i].value >= 0 ? std::to_string(info.dims[i].value)
                                                          : (info.dims[i].param.empty() ? "?" : info.dims[i].param));
  return expected + "]";
}

// A value declared without any type (an outer-scope read of a subgraph) takes any kind.
bool untyped(const ir::ValueInfo& info) {
  return info.is_tensor && info.elem_type == DType::kUndefined && !info.has_shape;
}

// The lengths of every sequence in `value` against --max-sequence-length.
Status check_sequence_lengths(const Value& value, const std::string& where) {
  if (value.is_optional()) return value.has_element() ? check_sequence_lengths(value.element(), where) : Status::Ok();
  if (!value.is_sequence()) return Status::Ok();
  EMBER_TRY(check_sequence_length(int64_t(value.length()), where));
  for (const auto& item : value.items()) EMBER_TRY(check_sequence_lengths(item, where));
  return Status::Ok();
}

// A sequence or optional fed to an input declared with a non-tensor type: the same structure
// (optional or not, sequence depth) and, where both say, the same element type. A plain value
// fed to an optional input is wrapped by bind_feeds.
Status check_non_tensor_feed(const ir::ValueInfo& info, const Value& value) {
  if (info.opaque_type.empty()) {  // a non-tensor of unrecorded type: any sequence or optional
    if (value.is_tensor()) return invalid_input("input '" + info.name + "' expects a sequence or an optional, got a " + value.describe());
    return Status::Ok();
  }
  const auto declared = declared_value_type(info);
  if (!declared) return unsupported("input '" + info.name + "' is declared as a map or another type Ember does not run");
  const std::string mismatch = "input '" + info.name + "' expects " + declared_type_string(*declared) + ", got a " + value.describe() +
                               " (" + value.type_string() + ")";
  if (value.is_optional() && !declared->optional) return invalid_input(mismatch);
  const int depth = value.is_optional() ? value.depth() : value.is_sequence() ? value.depth() : 0;
  const DType elem = value.is_tensor() ? value.tensor().dtype() : value.elem_type();
  if (depth != declared->depth) return invalid_input(mismatch);
  if (declared->elem_type != DType::kUndefined && elem != DType::kUndefined && elem != declared->elem_type) return invalid_input(mismatch);
  return check_sequence_lengths(value, "input '" + info.name + "'");
}

}  // namespace

Status Interpreter::check_feed(const ir::ValueInfo& info, const Value& value) const {
  if (untyped(info)) return check_sequence_lengths(value, "input '" + info.name + "'");
  const std::string mismatch = "input '" + info.name + "' expects " + expected_type(info) + ", got ";
  if (!info.is_tensor) return check_non_tensor_feed(info, value);
  if (!value.is_tensor()) return invalid_input(mismatch + "a " + value.describe());
  const Tensor& tensor = value.tensor();
  const std::string got = std::string(dtype_name(tensor.dtype())) + " " + shape_to_string(tensor.shape());
  if (info.elem_type != DType::kUndefined && tensor.dtype() != info.elem_type) return invalid_input(mismatch + got);
  if (!info.has_shape) return Status::Ok();
  bool match = info.dims.size() == tensor.shape().size();
  for (size_t i = 0; match && i < info.dims.size(); ++i)
    match = info.dims[i].value < 0 || info.dims[i].value == tensor.shape()[i];
  if (!match) return invalid_input(mismatch + got);
  return Status::Ok();
}

Status Interpreter::bind_feeds(const std::map<std::string, Value>& feeds, Frame& frame) const {
  for (const auto& [name, value] : feeds) {
    auto it = slot_of_.find(name);
    const ir::ValueInfo* info = nullptr;
    for (const auto* in : feed_inputs_)
      if (in->name == name) info = in;
    if (it == slot_of_.end() || !info) {
      std::string names;
      for (const auto* in : feed_inputs_) names += (names.empty() ? "" : ", ") + in->name;
      return invalid_input("the model has no input named '" + name + "' (inputs: " + names + ")");
    }
    EMBER_TRY(check_feed(*info, value));
    // A tensor or sequence fed to an input declared optional is wrapped, as a Loop body's
    // optional carried value is fed what the previous iteration returned.
    const bool wrap = !value.is_optional() && !info->is_tensor && declares_optional(*info);
    frame.store(it->second, wrap ? Value::some(value) : value);
  }
  for (const auto* in : feed_inputs_)
    if (!feeds.count(in->name)) return invalid_input("input '" + in->name + "' was not fed");
  return Status::Ok();
}

// A tensor kernel: its inputs must be tensors.
Status Interpreter::run_step(Step& step, Frame& frame, const ValueObserver& observer) {
  if (step.value_kernel) return run_value_step(step, frame, observer);
  frame.inputs.clear();
  for (size_t k = 0; k < step.inputs.size(); ++k) {
    const int s = step.inputs[k];
    if (s >= 0 && !frame.others.empty() && frame.others.count(s)) {
      const std::string name = k < step.node->inputs.size() ? "input " + std::to_string(k) + " ('" + step.node->inputs[k] + "')"
                                                              : std::string("an outer-scope value of its subgraph");
      return invalid_input("node '" + step.node->name + "' (" + step.node->op_type + "): " + name + " is a " +
                           frame.others.at(s).describe() + "; the operator takes tensors");
    }
    frame.inputs.push_back(s >= 0 && frame.values[static_cast<size_t>(s)].defined() ? &frame.values[static_cast<size_t>(s)] : nullptr);
  }
  frame.outputs.assign(step.outputs.size(), Tensor());
  RunContext ctx{*step.node, frame.inputs, frame.outputs, pool_};
  EMBER_TRY(run_kernel(*step.kernel, ctx));
  for (size_t o = 0; o < step.outputs.size(); ++o) {
    if (step.outputs[o] < 0) continue;
    if (!frame.outputs[o].defined()) return internal_error(ctx.where() + " did not produce output " + std::to_string(o));
    if (observer) EMBER_TRY(observer(step.node->outputs[o], frame.outputs[o]));
    frame.values[static_cast<size_t>(step.outputs[o])] = std::move(frame.outputs[o]);
  }
  return Status::Ok();
}

// A value kernel (value_kernel.h): inputs and outputs of any kind; the observer sees tensors.
Status Interpreter::run_value_step(Step& step, Frame& frame, const ValueObserver& observer) {
  std::vector<Value> inputs, outputs(step.outputs.size());
  for (int s : step.inputs) inputs.push_back(frame.value_at(s));
  ValueRunContext ctx{*step.node, inputs, outputs, pool_};
  EMBER_TRY(run_value_kernel(*step.value_kernel, ctx));
  for (size_t o = 0; o < step.outputs.size(); ++o) {
    if (step.outputs[o] < 0) continue;
    if (!outputs[o].defined()) return internal_error(ctx.where() + " did not produce output " + std::to_string(o));
    if (observer && outputs[o].is_tensor()) EMBER_TRY(observer(step.node->outputs[o], outputs[o].tensor()));
    if (others_observer_ && !outputs[o].is_tensor()) EMBER_TRY((*others_observer_)(step.node->outputs[o], outputs[o]));
    frame.store(step.outputs[o], std::move(outputs[o]));
  }
  return Status::Ok();
}

Result<std::vector<Value>> Interpreter::execute(const std::map<std::string, Value>& feeds, const ValueObserver& observer,
                                                const std::vector<int>& keep_slots) {
  Frame frame;
  frame.values = constants_;
  EMBER_TRY(bind_feeds(feeds, frame));
  frame.keep.insert(keep_slots.begin(), keep_slots.end());
  // Shape-static steps are taken from the last run when the feeds' shapes are the same (an
  // observer still sees their values).
  std::vector<Shape> shapes;
  for (const auto* in : feed_inputs_) shapes.push_back(frame.values[static_cast<size_t>(slot_of_.at(in->name))].shape());
  const bool reuse = static_valid_ && shapes == static_for_shapes_ && frame.others.empty();
  std::vector<std::vector<Tensor>> statics(reuse ? 0 : steps_.size());
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& step = steps_[i];
    if (reuse && step.shape_static) {
      for (size_t o = 0; o < step.outputs.size(); ++o) {
        if (step.outputs[o] < 0) continue;
        if (observer) EMBER_TRY(observer(step.node->outputs[o], static_outputs_[i][o]));
        frame.values[static_cast<size_t>(step.outputs[o])] = static_outputs_[i][o];
      }
    } else {
      EMBER_TRY(run_step(step, frame, observer));
      if (!statics.empty() && step.shape_static)
        for (int s : step.outputs) statics[i].push_back(s >= 0 ? frame.values[static_cast<size_t>(s)] : Tensor());
    }
    for (int s : step.release_after) frame.release(s);
  }
  if (!statics.empty()) {  // a complete run: its shape-static values serve the next ones
    static_outputs_ = std::move(statics);
    static_for_shapes_ = std::move(shapes);
    static_valid_ = true;
  }
  std::vector<Value> result;
  for (int s : keep_slots) result.push_back(frame.value_at(s));
  return result;
}

Result<std::vector<Tensor>> Interpreter::execute_tensors(const std::map<std::string, Tensor>& feeds,
                                                         const ValueObserver& observer, const std::vector<int>& keep_slots) {
  std::map<std::string, Value> values(feeds.begin(), feeds.end());
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> out, execute(values, observer, keep_slots));
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_tensor()) {
      std::string name;
      for (const auto& [n, s] : slot_of_)
        if (s == keep_slots[i]) name = n;
      return invalid_input("value '" + name + "' is a " + out[i].describe() + ", and this caller takes tensors only");
    }
    tensors.push_back(out[i].tensor());
  }
  return tensors;
}

Result<std::vector<Tensor>> Interpreter::run(const std::map<std::string, Tensor>& feeds, const ValueObserver& observer) {
  return execute_tensors(feeds, observer, output_slots_);
}

Result<std::vector<Value>> Interpreter::run_values(const std::map<std::string, Value>& feeds, const ValueObserver& observer,
                                                   const NonTensorObserver& others) {
  others_observer_ = others ? &others : nullptr;
  auto result = execute(feeds, observer, output_slots_);
  others_observer_ = nullptr;
  return result;
}

Result<std::map<std::string, Tensor>> Interpreter::run_and_fetch(const std::map<std::string, Tensor>& feeds,
                                                                 const std::vector<std::string>& names) {
  std::vector<int> slots;
  for (const auto& name : names) {
    auto it = slot_of_.find(name);
    if (it == slot_of_.end()) return invalid_input("the model has no value named '" + name + "'");
    slots.push_back(it->second);
  }
  EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> values, execute_tensors(feeds, nullptr, slots));
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = values[i];
  return out;
}

}  // namespace ember::runtime
