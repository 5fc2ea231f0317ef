#include "runtime/subgraph.h"

#include <set>
#include <type_traits>

#include "runtime/interpreter.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace {

thread_local const BodyObservation::Observer* body_observer = nullptr;
thread_local int body_integer_kernels = -1;  // -1: no enclosing interpreter said

// Reports a body run's declared inputs to the live BodyObservation (its nodes' values come
// through the interpreter's observer).
template <class V>
Status observe_declared(const std::map<std::string, V>& feeds, const ir::Graph& body) {
  const BodyObservation::Observer* observer = body_observer;
  if (!observer) return Status::Ok();
  for (const auto& in : body.inputs) {
    auto it = feeds.find(in.name);
    if (it == feeds.end()) continue;
    if constexpr (std::is_same_v<V, Tensor>) {
      EMBER_TRY((*observer)(in.name, it->second));
    } else if (it->second.is_tensor()) {
      EMBER_TRY((*observer)(in.name, it->second.tensor()));
    }
  }
  return Status::Ok();
}

// Adds to `reads` what `graph` reads without defining, given the names `defined` around it.
void collect_reads(const ir::Graph& graph, std::set<std::string> defined, std::set<std::string>& reads) {
  for (const auto& in : graph.inputs) defined.insert(in.name);
  for (const auto& [name, t] : graph.initializers) defined.insert(name);
  for (const auto& node : graph.nodes)
    for (const auto& out : node.outputs) defined.insert(out);
  for (const auto& node : graph.nodes) {
    for (const auto& in : node.inputs)
      if (!in.empty() && !defined.count(in)) reads.insert(in);
    for (const auto& attr : node.attributes) {
      if (attr.g) collect_reads(*attr.g, defined, reads);
      for (const auto& g : attr.graphs) collect_reads(*g, defined, reads);
    }
  }
  for (const auto& out : graph.outputs)
    if (!defined.count(out.name)) reads.insert(out.name);
}

}  // namespace

BodyObservation::BodyObservation(Observer observer) : observer_(std::move(observer)), previous_(body_observer) {
  body_observer = &observer_;
}

BodyObservation::~BodyObservation() { body_observer = previous_; }

const BodyObservation::Observer* BodyObservation::current() { return body_observer; }

BodyKernelScope::BodyKernelScope(bool integer_kernels) : previous_(body_integer_kernels) {
  body_integer_kernels = integer_kernels ? 1 : 0;
}

BodyKernelScope::~BodyKernelScope() { body_integer_kernels = previous_; }

std::vector<std::string> outer_scope_reads(const ir::Graph& graph) {
  std::set<std::string> reads;
  collect_reads(graph, {}, reads);
  return {reads.begin(), reads.end()};
}

bool has_subgraph(const ir::Node& node) {
  for (const auto& attr : node.attributes)
    if (attr.g || !attr.graphs.empty()) return true;
  return false;
}

std::vector<std::string> outer_scope_reads(const ir::Node& node) {
  std::set<std::string> reads;
  for (const auto& attr : node.attributes) {
    if (attr.g) collect_reads(*attr.g, {}, reads);
    for (const auto& g : attr.graphs) collect_reads(*g, {}, reads);
  }
  return {reads.begin(), reads.end()};
}

Result<std::unique_ptr<SubgraphRunner>> SubgraphRunner::create(const ir::Graph& body, int64_t opset, const std::string& where) {
  std::unique_ptr<SubgraphRunner> runner(new SubgraphRunner());
  runner->body_ = body;
  runner->where_ = where;
  runner->outer_ = outer_scope_reads(body);
  ir::Model model;
  model.ir_version = 8;
  model.opset_imports = {{"", opset}};
  model.graph = body;
  // Loop-carried values may change shape between iterations: only the types are checked.
  for (auto& in : model.graph.inputs) in.has_shape = false;
  for (const auto& name : runner->outer_) {
    ir::ValueInfo vi;
    vi.name = name;
    model.graph.inputs.push_back(vi);
  }
  InterpreterOptions options;
  options.threads = num_threads();
  if (body_integer_kernels >= 0) options.integer_kernels = body_integer_kernels != 0;
  auto interp = Interpreter::create(model, options);
  if (!interp.ok()) return interp.status().with_context("subgraph '" + body.name + "'");  // the plan adds the node
  runner->interp_ = std::move(*interp);
  return runner;
}

SubgraphRunner::~SubgraphRunner() = default;

Result<std::vector<Tensor>> SubgraphRunner::run(const std::vector<Tensor>& declared,
                                                const std::map<std::string, const Tensor*>& outer_values) {
  if (declared.size() != body_.inputs.size())
    return invalid_input(where_ + ": its subgraph '" + body_.name + "' takes " + std::to_string(body_.inputs.size()) +
                         " inputs, " + std::to_string(declared.size()) + " are given");
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < declared.size(); ++i) feeds[body_.inputs[i].name] = declared[i];
  for (const auto& name : outer_) {
    auto it = outer_values.find(name);
    if (it == outer_values.end() || !it->second)
      return invalid_input(where_ + ": its subgraph reads '" + name + "', which no enclosing graph defines");
    feeds[name] = *it->second;
  }
  EMBER_TRY(observe_declared(feeds, body_));
  auto out = body_observer ? interp_->run(feeds, *body_observer) : interp_->run(feeds);
  if (!out.ok()) return out.status().with_context(where_ + " subgraph '" + body_.name + "'");
  return out;
}

Result<std::vector<Value>> SubgraphRunner::run_values(const std::vector<Value>& declared,
                                                      const std::map<std::string, Value>& outer_values) {
  if (declared.size() != body_.inputs.size())
    return invalid_input(where_ + ": its subgraph '" + body_.name + "' takes " + std::to_string(body_.inputs.size()) +
                         " inputs, " + std::to_string(declared.size()) + " are given");
  std::map<std::string, Value> feeds;
  for (size_t i = 0; i < declared.size(); ++i) feeds[body_.inputs[i].name] = declared[i];
  for (const auto& name : outer_) {
    auto it = outer_values.find(name);
    if (it == outer_values.end() || !it->second.defined())
      return invalid_input(where_ + ": its subgraph reads '" + name + "', which no enclosing graph defines");
    feeds[name] = it->second;
  }
  EMBER_TRY(observe_declared(feeds, body_));
  auto out = body_observer ? interp_->run_values(feeds, *body_observer) : interp_->run_values(feeds);
  if (!out.ok()) return out.status().with_context(where_ + " subgraph '" + body_.name + "'");
  return out;
}

std::map<std::string, Value> outer_values(const ValueRunContext& ctx, const std::vector<std::string>& names) {
  std::map<std::string, Value> values;
  const size_t first = ctx.node.inputs.size();
  for (size_t i = 0; i < names.size() && first + i < ctx.inputs.size(); ++i) values[names[i]] = ctx.inputs[first + i];
  return values;
}

std::map<std::string, const Tensor*> outer_values(const RunContext& ctx, const std::vector<std::string>& names) {
  std::map<std::string, const Tensor*> values;
  const size_t first = ctx.node.inputs.size();
  for (size_t i = 0; i < names.size() && first + i < ctx.inputs.size(); ++i) values[names[i]] = ctx.inputs[first + i];
  return values;
}

}  // namespace ember::runtime
