// Backward rules of Loop and Scan (grad_loop_scan.h). Both run the body's BackwardInterpreter
// (built on first use, cached per node) once per iteration, from the last: Loop and Scan-9
// number their body inputs like their node inputs (Loop: M, cond | iteration, cond; then the
// carried values; Scan: the states, then the scanned inputs), and node output j is body
// output j + 1 for Loop (the condition comes first), j for Scan. Scan-8 has sequence_lens
// first and batch-major inputs and outputs: its rows are walked one at a time.
// A Loop's carried value may be a sequence (SequenceInsert in the body accumulating one tensor
// per iteration): iteration t's body takes dL/d(s_{t+1}) as a sequence gradient and gives
// dL/d(s_t), one tensor per element. An outer sequence a body reads gets the sum of every
// iteration's gradient, element by element. An optional (a Loop's carried one, an outer one a
// body reads) is fed to the body as the optional, and its gradient is its element's: a tensor
// or a sequence gradient, none while it is empty.
#include "runtime/grad/grad_loop_scan.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "ir/memory_limits.h"
#include "runtime/grad/backward_interpreter.h"
#include "runtime/grad/grad_control_flow.h"
#include "runtime/grad/gradient_path.h"
#include "runtime/grad/iteration_tape.h"
#include "runtime/grad/loop_scan_values.h"
#include "runtime/subgraph.h"

namespace ember::runtime::grad {
namespace {

constexpr size_t kMaxInputs = kMaxIndices;

const ir::Graph* body_of(const ir::Node& node) {
  const ir::Attribute* a = node.find_attr("body");
  return a && a->g ? a->g.get() : nullptr;
}

bool is_loop(const ir::Node& node) { return node.op_type == "Loop"; }
size_t fixed_body_inputs(const ir::Node& node) { return is_loop(node) ? 2 : 0; }  // Loop's iteration and condition
size_t fixed_body_outputs(const ir::Node& node) { return is_loop(node) ? 1 : 0; }  // Loop's condition

// A gradient reached a body output whose value cannot carry it (an empty optional, a tensor
// for a sequence, ...): never dropped in silence.
Status dropped_gradient(const BackwardContext& ctx, const std::string& output, const Value& value) {
  return unsupported(ctx.where() + ": its body output '" + output + "' is " + value.describe() +
                     ", and a gradient that reached it would be dropped");
}

struct BodyGradient {
  std::vector<std::string> sources;
  std::unique_ptr<BackwardInterpreter> interp;
};

// What one node's iterations look like to the reverse walk.
struct IterationSpec {
  const ir::Graph* body = nullptr;
  size_t node_offset = 0;  // body input i is node input i + node_offset (Scan-8: 1, sequence_lens first)
  size_t states = 0;
  std::vector<ScanAxis> scan_inputs;   // Scan's, at body inputs states + j
  std::vector<ScanAxis> scan_outputs;  // at node outputs states + k
  int64_t length = 0;
  // The body's feeds for iteration t from the state before it (declared inputs and outer reads).
  std::function<std::map<std::string, Value>(int64_t t, const std::vector<Value>& state)> feeds;
  // dL/d(scan output k of iteration t), or an undefined tensor for none.
  std::function<Tensor(size_t k, int64_t t)> scan_output_grad;
};

// One forward iteration of a Scan body: the states after iteration t (the body's first outputs).
IterationTape::Step scan_step(BackwardInterpreter& bi, const IterationSpec& spec) {
  return [&bi, &spec](int64_t t, const std::vector<Value>& state) -> Result<std::vector<Value>> {
    EMBER_ASSIGN_OR_RETURN(std::vector<Value> outs, bi.interpreter().run_values(spec.feeds(t, state)));
    outs.resize(spec.states);
    return outs;
  };
}

// The body's BackwardInterpreter differentiating the f32 carried values (tensors or a Loop's
// sequences), the scanned inputs and outer reads whose gradient is wanted.
Result<BackwardInterpreter*> body_gradient(BackwardContext& ctx, const IterationSpec& spec) {
  const ir::Node& node = ctx.node;
  const size_t first = fixed_body_inputs(node), declared = node.inputs.size();
  const std::vector<std::string> names = if_gradient_inputs(node);
  std::vector<std::string> sources;
  for (size_t i = first; i < spec.body->inputs.size(); ++i) {
    const size_t at = i + spec.node_offset;
    const bool carried = i < first + spec.states;  // carries weights' gradients even when the initial value wants none
    const Value v = value_at(ctx, at);
    if (carried ? may_carry_gradient(v) : (ctx.wants(at) && is_differentiable(v))) sources.push_back(spec.body->inputs[i].name);
  }
  for (size_t i = declared; i < names.size() && i < kMaxInputs; ++i)
    if (ctx.wants(i) && is_differentiable(value_at(ctx, i))) sources.push_back(names[i]);
  if (!*ctx.cache) *ctx.cache = std::make_shared<BodyGradient>();
  auto& g = *static_cast<BodyGradient*>(ctx.cache->get());
  if (!g.interp || g.sources != sources) {
    EMBER_ASSIGN_OR_RETURN(g.interp, subgraph_interpreter(*spec.body, ctx.opset, sources, ctx.products));
    g.sources = sources;
    if (!g.interp->cuts().empty())
      return unsupported(ctx.where() + ": its body has a node without a backward rule: '" + g.interp->cuts()[0].node + "' (" +
                         g.interp->cuts()[0].op_type + ")");
  }
  return g.interp.get();
}

// The outer-scope values (tensors or sequences) the body reads, by name, from the inputs after
// the declared ones.
Result<std::map<std::string, Value>> outer_feeds(const BackwardContext& ctx) {
  const std::vector<std::string> names = if_gradient_inputs(ctx.node);
  std::map<std::string, Value> feeds;
  for (size_t i = ctx.node.inputs.size(); i < names.size(); ++i) {
    Value v = value_at(ctx, i);
    if (!v.defined()) return internal_error(ctx.where() + ": the outer value '" + names[i] + "' its body reads was not kept");
    feeds[names[i]] = std::move(v);
  }
  return feeds;
}

// Walks the iterations from the last: dL/d(state), starting from `carried` (the final states'),
// is carried back and returned (the initial states'; undefined: zero), the scanned inputs'
// gradients are added to x_grads[j] (when defined, laid out as the scanned tensor) and the outer
// reads' to ctx.input_grads (a sequence's, element by element, to ctx.input_sequence_grads).
Result<std::vector<StateGrad>> reverse_iterations(BackwardContext& ctx, BackwardInterpreter& bi, const IterationSpec& spec,
                                                  IterationTape& tape, std::vector<StateGrad> carried, std::vector<Tensor>& x_grads) {
  const ir::Node& node = ctx.node;
  const size_t first = fixed_body_inputs(node), first_out = fixed_body_outputs(node);
  const std::vector<std::string> names = if_gradient_inputs(node);
  enum class Kind { kState, kScanInput, kOuter };
  struct Role {
    Kind kind;
    size_t index;  // state k, scanned input j, or node input i
  };
  std::map<std::string, Role> roles;
  for (size_t k = 0; k < spec.states; ++k) roles[spec.body->inputs[first + k].name] = {Kind::kState, k};
  for (size_t j = 0; j < spec.scan_inputs.size(); ++j) roles[spec.body->inputs[first + spec.states + j].name] = {Kind::kScanInput, j};
  for (size_t i = node.inputs.size(); i < names.size() && i < kMaxInputs; ++i)
    if (ctx.wants(i)) roles[names[i]] = {Kind::kOuter, i};
  const std::vector<std::string> out_names = bi.output_names();
  for (int64_t t = spec.length - 1; t >= 0; --t) {
    EMBER_ASSIGN_OR_RETURN(const std::vector<Value> state, tape.state_before(t));
    EMBER_ASSIGN_OR_RETURN(const std::vector<Value> outs, bi.forward_with_values(spec.feeds(t, state)));
    std::map<std::string, Tensor> seeds;
    std::map<std::string, SequenceGrad> sequence_seeds;
    // A seed for an output that cannot take it would be a gradient dropped: an error instead.
    auto seed = [&](size_t out, Tensor g) -> Status {  // outputs that are one value add their seeds
      if (out >= outs.size()) return Status::Ok();
      if (!is_differentiable(outs[out]) || !held(outs[out]).is_tensor()) return dropped_gradient(ctx, out_names[out], outs[out]);
      Tensor& s = seeds[out_names[out]];
      if (s.defined()) {
        Tensor sum = g.clone();  // g may be the node's output gradient: never written to
        accumulate(sum, s);
        g = std::move(sum);
      }
      s = std::move(g);
      return Status::Ok();
    };
    auto seed_sequence = [&](size_t out, const SequenceGrad& g) -> Status {
      if (out >= outs.size()) return Status::Ok();
      if (!is_differentiable(outs[out]) || !held(outs[out]).is_sequence()) return dropped_gradient(ctx, out_names[out], outs[out]);
      SequenceGrad& s = sequence_seeds[out_names[out]];
      SequenceGrad sum;  // out of place: g and s may be views of gradients the caller keeps
      accumulate_sequence(sum, s);
      accumulate_sequence(sum, g);
      s = std::move(sum);
      return Status::Ok();
    };
    for (size_t k = 0; k < spec.states; ++k) {
      if (carried[k].tensor.defined()) EMBER_TRY(seed(first_out + k, carried[k].tensor));
      if (!carried[k].sequence.empty()) EMBER_TRY(seed_sequence(first_out + k, carried[k].sequence));
    }
    for (size_t k = 0; k < spec.scan_outputs.size(); ++k) {
      Tensor g = spec.scan_output_grad(k, t);
      if (g.defined()) EMBER_TRY(seed(first_out + spec.states + k, std::move(g)));
    }
    std::vector<StateGrad> next(spec.states);
    if (seeds.empty() && sequence_seeds.empty()) {
      carried = std::move(next);
      continue;
    }
    const auto sink = [&](const std::string& name, const Tensor& g) -> Status {
      auto it = roles.find(name);
      if (it == roles.end() || g.dtype() != DType::kF32) return Status::Ok();
      const Role& r = it->second;
      if (r.kind == Kind::kState) next[r.index].tensor = g.clone();
      if (r.kind == Kind::kScanInput && x_grads[r.index].defined())
        add_to_slice(x_grads[r.index], spec.scan_inputs[r.index].axis, spec.scan_inputs[r.index].position(t, spec.length), g);
      if (r.kind == Kind::kOuter) accumulate(ctx.input_grads[r.index], g);
      return Status::Ok();
    };
    const auto sequence_sink = [&](const std::string& name, const SequenceGrad& g) -> Status {
      auto it = roles.find(name);
      if (it == roles.end()) return Status::Ok();
      const Role& r = it->second;
      if (r.kind == Kind::kState) next[r.index].sequence = clone_sequence(g);
      if (r.kind == Kind::kOuter) {  // summed over the iterations
        if (r.index >= ctx.input_sequence_grads.size())
          return internal_error(ctx.where() + ": the outer value '" + name + "' takes a sequence gradient the node cannot pass on");
        auto& acc = ctx.input_sequence_grads[r.index];
        if (!acc) acc = SequenceGrad();
        accumulate_sequence(*acc, g);
      }
      return Status::Ok();
    };
    EMBER_TRY(bi.backward(seeds, sink, nullptr, sequence_seeds, sequence_sink));
    carried = std::move(next);
  }
  return carried;
}

// Loop and Scan-9, whose node inputs and outputs are the body's: the final states' and the
// stacked scan outputs' gradients come from the node's outputs, and the initial states' and
// scanned inputs' go to its inputs.
Status reverse_node_iterations(BackwardContext& ctx, BackwardInterpreter& bi, IterationSpec& spec, IterationTape& tape) {
  const size_t first = fixed_body_inputs(ctx.node);
  std::vector<StateGrad> carried(spec.states);
  std::vector<Tensor> x_grads(spec.scan_inputs.size());
  for (size_t k = 0; k < spec.states; ++k) {
    if (ctx.has_output_grad(k)) carried[k].tensor = ctx.output_grad(k);
    if (const SequenceGrad* g = ctx.output_sequence_grad(k)) carried[k].sequence = *g;
  }
  for (size_t j = 0; j < x_grads.size(); ++j)
    if (ctx.wants(first + spec.states + j)) x_grads[j] = ctx.zeros(ctx.input(first + spec.states + j).shape());
  spec.scan_output_grad = [&](size_t k, int64_t t) {
    if (!ctx.has_output_grad(spec.states + k)) return Tensor();
    const ScanAxis& a = spec.scan_outputs[k];
    return slice_along(ctx.output_grad(spec.states + k), a.axis, a.position(t, spec.length));
  };
  EMBER_ASSIGN_OR_RETURN(carried, reverse_iterations(ctx, bi, spec, tape, std::move(carried), x_grads));
  for (size_t k = 0; k < spec.states; ++k) {
    if (!ctx.wants(first + k)) continue;
    if (carried[k].tensor.defined()) ctx.input_grads[first + k] = carried[k].tensor.clone();
    if (carried[k].sequence.empty()) continue;
    if (!ctx.input_is_sequence(first + k) || first + k >= ctx.input_sequence_grads.size())
      return internal_error(ctx.where() + ": loop-carried input " + std::to_string(k) + " ('" + ctx.node.inputs[first + k] +
                            "') takes a sequence gradient, and it is not a sequence");
    ctx.input_sequence_grads[first + k] = clone_sequence(carried[k].sequence);
  }
  for (size_t j = 0; j < x_grads.size(); ++j)
    if (x_grads[j].defined()) ctx.input_grads[first + spec.states + j] = std::move(x_grads[j]);
  return Status::Ok();
}

int64_t normalized_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

Status scan_backward(BackwardContext& ctx) {
  const ir::Node& node = ctx.node;
  IterationSpec spec;
  spec.body = body_of(node);
  const size_t declared = node.inputs.size();
  const int64_t m = node.attr_int("num_scan_inputs", 0);
  if (!spec.body || m <= 0 || size_t(m) > declared || spec.body->inputs.size() != declared ||
      spec.body->outputs.size() < declared - size_t(m))
    return invalid_input(ctx.where() + ": the body does not match the node's states and scan inputs");
  spec.states = declared - size_t(m);
  for (size_t i = 0; i < declared; ++i)
    if (!ctx.has_input(i)) return invalid_input(ctx.where() + ": input " + std::to_string(i) + " is missing");
  const auto in_axes = node.attr_ints("scan_input_axes"), in_dirs = node.attr_ints("scan_input_directions");
  const auto out_axes = node.attr_ints("scan_output_axes"), out_dirs = node.attr_ints("scan_output_directions");
  spec.length = -1;
  for (size_t j = 0; j < size_t(m); ++j) {
    const Tensor& x = ctx.input(spec.states + j);
    const int64_t axis = normalized_axis(j < in_axes.size() ? in_axes[j] : 0, x.rank());
    if (axis < 0 || axis >= x.rank() || (spec.length >= 0 && x.dim(int(axis)) != spec.length))
      return invalid_input(ctx.where() + ": scan input " + std::to_string(j) + "'s axis is out of range or its length differs");
    spec.length = x.dim(int(axis));
    spec.scan_inputs.push_back({axis, j < in_dirs.size() && in_dirs[j] == 1});
  }
  EMBER_TRY(check_sequence_length(spec.length, ctx.where()));
  for (size_t k = 0; spec.states + k < spec.body->outputs.size(); ++k) {
    const size_t out = spec.states + k;
    const int64_t rank = out < ctx.output_shapes.size() ? int64_t(ctx.output_shapes[out].size()) : 1;
    spec.scan_outputs.push_back({normalized_axis(k < out_axes.size() ? out_axes[k] : 0, rank), k < out_dirs.size() && out_dirs[k] == 1});
  }
  EMBER_ASSIGN_OR_RETURN(const auto outer, outer_feeds(ctx));
  spec.feeds = [&](int64_t t, const std::vector<Value>& state) {
    std::map<std::string, Value> f = outer;
    for (size_t k = 0; k < spec.states; ++k) f[spec.body->inputs[k].name] = state[k];
    for (size_t j = 0; j < spec.scan_inputs.size(); ++j)
      f[spec.body->inputs[spec.states + j].name] =
          slice_along(ctx.input(spec.states + j), spec.scan_inputs[j].axis, spec.scan_inputs[j].position(t, spec.length));
    return f;
  };
  EMBER_ASSIGN_OR_RETURN(BackwardInterpreter* bi, body_gradient(ctx, spec));
  const IterationTape::Step step = scan_step(*bi, spec);
  IterationTape tape(default_tape_budget(), step);
  std::vector<Value> state;
  for (size_t k = 0; k < spec.states; ++k) state.push_back(ctx.input(k));
  for (int64_t t = 0; t + 1 < spec.length; ++t) {  // the last iteration's state is never needed after it
    tape.record(t, state);
    EMBER_ASSIGN_OR_RETURN(state, step(t, state));
  }
  if (spec.length > 0) tape.record(spec.length - 1, state);
  return reverse_node_iterations(ctx, *bi, spec, tape);
}

// Scan-8: every input has a batch axis 0, scanned inputs a sequence axis 1 (reversed within the
// row's length for direction 1); each batch row is scanned on its own for sequence_lens[b] steps,
// its scan outputs stacked forward and padded with zeros (which take no gradient).
Status scan8_backward(BackwardContext& ctx) {
  const ir::Node& node = ctx.node;
  IterationSpec spec;
  spec.body = body_of(node);
  spec.node_offset = 1;
  const size_t declared = node.inputs.size();
  const int64_t m = node.attr_int("num_scan_inputs", 0);
  if (!spec.body || declared < 2 || m <= 0 || size_t(m) > declared - 1 || spec.body->inputs.size() != declared - 1 ||
      spec.body->outputs.size() < declared - 1 - size_t(m))
    return invalid_input(ctx.where() + ": the body does not match the node's states and scan inputs");
  spec.states = declared - 1 - size_t(m);
  for (size_t i = 1; i < declared; ++i)
    if (!ctx.has_input(i) || ctx.input(i).rank() < 1)
      return invalid_input(ctx.where() + ": input " + std::to_string(i) + " is missing or has no batch axis");
  const auto dirs = node.attr_ints("directions");
  for (size_t j = 0; j < size_t(m); ++j) spec.scan_inputs.push_back({0, j < dirs.size() && dirs[j] == 1});
  spec.scan_outputs.assign(spec.body->outputs.size() - spec.states, ScanAxis{});
  const Tensor& first_scanned = ctx.input(1 + spec.states);
  const int64_t batch = ctx.input(1).dim(0), seq = first_scanned.rank() > 1 ? first_scanned.dim(1) : 0;
  EMBER_TRY(check_sequence_length(seq, ctx.where()));
  const Tensor* lens = ctx.has_input(0) ? &ctx.input(0) : nullptr;
  if (lens && (lens->numel() != batch || lens->dtype() != DType::kI64))
    return invalid_input(ctx.where() + ": sequence_lens must be int64 [batch]");
  EMBER_ASSIGN_OR_RETURN(const auto outer, outer_feeds(ctx));
  std::vector<Tensor> rows(spec.scan_inputs.size());  // this batch row of each scanned input
  spec.feeds = [&](int64_t t, const std::vector<Value>& state) {
    std::map<std::string, Value> f = outer;
    for (size_t k = 0; k < spec.states; ++k) f[spec.body->inputs[k].name] = state[k];
    for (size_t j = 0; j < rows.size(); ++j)
      f[spec.body->inputs[spec.states + j].name] = slice_along(rows[j], 0, spec.scan_inputs[j].position(t, spec.length));
    return f;
  };
  EMBER_ASSIGN_OR_RETURN(BackwardInterpreter* bi, body_gradient(ctx, spec));
  const IterationTape::Step step = scan_step(*bi, spec);
  for (size_t i = 1; i < declared; ++i)
    if (ctx.wants(i)) ctx.input_grads[i] = ctx.zeros(ctx.input(i).shape());
  std::vector<Tensor> out_rows(spec.scan_outputs.size());  // this batch row of each scan output's gradient
  spec.scan_output_grad = [&](size_t k, int64_t t) { return out_rows[k].defined() ? slice_along(out_rows[k], 0, t) : Tensor(); };
  for (int64_t b = 0; b < batch; ++b) {
    spec.length = lens ? lens->data<int64_t>()[b] : seq;
    if (spec.length < 0 || spec.length > seq) return invalid_input(ctx.where() + ": sequence length out of range");
    std::vector<Value> state;
    std::vector<StateGrad> carried(spec.states);
    std::vector<Tensor> x_grads(rows.size());
    for (size_t k = 0; k < spec.states; ++k) {
      state.push_back(slice_along(ctx.input(1 + k), 0, b));
      if (ctx.has_output_grad(k)) carried[k].tensor = slice_along(ctx.output_grad(k), 0, b);
    }
    for (size_t j = 0; j < rows.size(); ++j) {
      rows[j] = slice_along(ctx.input(1 + spec.states + j), 0, b);
      if (ctx.wants(1 + spec.states + j)) x_grads[j] = ctx.zeros(rows[j].shape());
    }
    for (size_t k = 0; k < out_rows.size(); ++k)
      out_rows[k] = ctx.has_output_grad(spec.states + k) ? slice_along(ctx.output_grad(spec.states + k), 0, b) : Tensor();
    IterationTape tape(default_tape_budget(), step);
    for (int64_t t = 0; t < spec.length; ++t) {
      tape.record(t, state);
      if (t + 1 == spec.length) break;  // the last iteration's state is never needed after it
      EMBER_ASSIGN_OR_RETURN(state, step(t, state));
    }
    EMBER_ASSIGN_OR_RETURN(carried, reverse_iterations(ctx, *bi, spec, tape, std::move(carried), x_grads));
    for (size_t k = 0; k < spec.states; ++k)
      if (ctx.wants(1 + k) && carried[k].tensor.defined()) add_to_slice(ctx.input_grads[1 + k], 0, b, carried[k].tensor);
    for (size_t j = 0; j < x_grads.size(); ++j)
      if (x_grads[j].defined()) add_to_slice(ctx.input_grads[1 + spec.states + j], 0, b, x_grads[j]);
  }
  return Status::Ok();
}

Result<bool> read_condition(const Tensor& t, const std::string& what) {
  if (t.numel() != 1 || t.dtype() != DType::kBool) return invalid_input(what + " must be one bool");
  return t.data<uint8_t>()[0] != 0;
}

Status loop_backward(BackwardContext& ctx) {
  const ir::Node& node = ctx.node;
  IterationSpec spec;
  spec.body = body_of(node);
  const size_t declared = node.inputs.size();
  spec.states = declared < 2 ? 0 : declared - 2;
  if (!spec.body || declared < 2 || spec.body->inputs.size() != spec.states + 2 || spec.body->outputs.size() < spec.states + 1)
    return invalid_input(ctx.where() + ": the body does not take the iteration, the condition and the carried values");
  std::optional<int64_t> trips;
  if (ctx.has_input(0)) {
    const Tensor& m = ctx.input(0);
    if (m.numel() != 1 || m.dtype() != DType::kI64) return invalid_input(ctx.where() + ": the trip count M must be one int64");
    trips = m.data<int64_t>()[0];
    if (*trips < 0) return invalid_input(ctx.where() + ": the trip count M is negative (" + std::to_string(*trips) + ")");
    EMBER_TRY(check_loop_iterations(*trips, ctx.where() + ": the trip count M"));
  }
  bool cond = true;
  if (ctx.has_input(1)) {
    EMBER_ASSIGN_OR_RETURN(cond, read_condition(ctx.input(1), ctx.where() + ": the condition"));
  }
  std::vector<Value> state;  // tensors or sequences
  for (size_t k = 0; k < spec.states; ++k) {
    state.push_back(value_at(ctx, 2 + k));
    if (!state.back().defined()) return invalid_input(ctx.where() + ": loop-carried input " + std::to_string(k) + " is missing");
    const Value& carried = held(state.back());
    const bool carries_gradient = carried.is_tensor() || (carried.is_sequence() && carried.depth() == 1) ||
                                  (state.back().is_optional() && !state.back().nested());
    if (!carries_gradient && (ctx.has_output_grad(k) || ctx.output_sequence_grad(k)))
      return unsupported(ctx.where() + ": loop-carried value " + std::to_string(k) + " is " + state.back().describe() +
                         " (gradients flow through carried tensors, sequences of tensors and optionals of them)");
  }
  spec.scan_outputs.assign(spec.body->outputs.size() - 1 - spec.states, ScanAxis{});
  EMBER_ASSIGN_OR_RETURN(const auto outer, outer_feeds(ctx));
  Tensor running = Tensor::zeros(DType::kBool, {});  // the body's condition input: true while it runs
  running.mutable_data<uint8_t>()[0] = 1;
  spec.feeds = [&](int64_t t, const std::vector<Value>& s) {
    std::map<std::string, Value> f = outer;
    f[spec.body->inputs[0].name] = Tensor::scalar<int64_t>(t);
    f[spec.body->inputs[1].name] = running;
    for (size_t k = 0; k < spec.states; ++k) f[spec.body->inputs[2 + k].name] = s[k];
    return f;
  };
  EMBER_ASSIGN_OR_RETURN(BackwardInterpreter* bi, body_gradient(ctx, spec));
  auto step = [&](int64_t t, const std::vector<Value>& s) -> Result<std::vector<Value>> {
    EMBER_ASSIGN_OR_RETURN(std::vector<Value> outs, bi->interpreter().run_values(spec.feeds(t, s)));
    return std::vector<Value>(outs.begin() + 1, outs.begin() + 1 + long(spec.states));
  };
  IterationTape tape(default_tape_budget(), step);
  for (int64_t t = 0; (!trips || t < *trips) && cond; ++t) {  // replay: the states and the iteration count
    EMBER_TRY(check_loop_iterations(t + 1, ctx.where() + ": the loop's condition stayed true"));
    tape.record(t, state);
    EMBER_ASSIGN_OR_RETURN(const std::vector<Value> outs, bi->interpreter().run_values(spec.feeds(t, state)));
    if (!outs[0].is_tensor()) return invalid_input(ctx.where() + ": the body's condition output is not a tensor");
    EMBER_ASSIGN_OR_RETURN(cond, read_condition(outs[0].tensor(), ctx.where() + ": the body's condition output"));
    state.assign(outs.begin() + 1, outs.begin() + 1 + long(spec.states));
    spec.length = t + 1;
  }
  return reverse_node_iterations(ctx, *bi, spec, tape);
}

GradNeeds loop_scan_needs(const ir::Node& node, IndexMask) {
  const size_t n = std::min(if_gradient_inputs(node).size(), kMaxInputs);
  return {n == kMaxInputs ? kAllIndices : (bit(n) - 1), 0};
}

Status scan_any_backward(BackwardContext& ctx) { return ctx.opset < 9 ? scan8_backward(ctx) : scan_backward(ctx); }

Status check_loop_scan_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry) {
  if (if_gradient_inputs(node).size() > kMaxInputs)
    return unsupported("it and its body read more than " + std::to_string(kMaxInputs) + " values");
  const ir::Graph* body = body_of(node);
  if (!body) return invalid_input("the body attribute (a graph) is missing");
  for (const auto* values : {&body->inputs, &body->outputs})  // Scan's states are tensors; a Loop's may be sequences
    for (const auto& v : *values)
      if (!v.is_tensor && !is_loop(node))
        return unsupported("its body carries '" + v.name + "', a sequence or optional (Scan states are tensors)");
  std::set<std::string> sources, seeded;
  const size_t first = fixed_body_inputs(node), inputs = body->inputs.size();
  const size_t offset = node.inputs.size() > inputs ? node.inputs.size() - inputs : 0;  // Scan-8: sequence_lens first
  const size_t fixed = is_loop(node) ? 2 : size_t(std::max<int64_t>(node.attr_int("num_scan_inputs", 0), 0));
  const size_t states = inputs > fixed ? inputs - fixed : 0;
  for (size_t i = first; i < inputs && i + offset < node.inputs.size(); ++i) {
    const DType type = body->inputs[i].elem_type;
    const bool maybe_float = type == DType::kUndefined || traits(type).is_float;
    if (maybe_float && (i < first + states || active.count(node.inputs[i + offset]))) sources.insert(body->inputs[i].name);
  }
  for (const auto& name : outer_scope_reads(*body))
    if (active.count(name)) sources.insert(name);
  for (size_t j = fixed_body_outputs(node); j < body->outputs.size(); ++j) seeded.insert(body->outputs[j].name);
  EMBER_ASSIGN_OR_RETURN(const GradientPlan plan, plan_gradients(*body, sources, seeded, registry));
  if (!plan.cuts.empty())
    return unsupported("its body has a node without a backward rule: '" + plan.cuts[0].node + "' (" + plan.cuts[0].op_type + ")");
  return Status::Ok();
}

}  // namespace

Status check_subgraph_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry) {
  const bool onnx = node.domain.empty() || node.domain == "ai.onnx";
  if (onnx && node.op_type == "If") return check_if_gradient(node, active, registry);
  if (onnx && (node.op_type == "Loop" || node.op_type == "Scan")) return check_loop_scan_gradient(node, active, registry);
  if (onnx && node.op_type == "SequenceMap") return check_sequence_map_gradient(node, active, registry);
  return unsupported("no backward rule through the subgraphs of " + node.op_type);
}

void register_loop_scan_grads(GradRegistry& r) {
  // Sequence rules: a Loop's carried values and the outer values both read may be sequences.
  r.add_sequence_rule("Loop", ~(bit(0) | bit(1)), loop_scan_needs, loop_backward);
  r.add_sequence_rule("Scan", kAllIndices, loop_scan_needs, scan_any_backward);  // Scan-8's sequence_lens is int64: never on the path
}

}  // namespace ember::runtime::grad
