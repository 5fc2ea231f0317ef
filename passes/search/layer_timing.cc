#include "passes/search/layer_timing.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include "passes/pass_manager.h"
#include "passes/search/realize.h"
#include "runtime/cores.h"
#include "runtime/cpu.h"
#include "runtime/interpreter.h"

namespace ember::passes::search {
namespace {

std::string dims_text(const Shape& shape) {
  std::string out;
  for (size_t d = 0; d < shape.size(); ++d) out += (d ? "x" : "") + std::to_string(shape[d]);
  return out.empty() ? "scalar" : out;
}

// The int and ints attributes, which decide the kernel (transB, axis, strides, group, ...).
std::string attrs_text(const ir::Node& node) {
  std::string out;
  for (const auto& a : node.attributes) {
    if (a.kind == ir::AttrKind::kInt) out += ";" + a.name + "=" + std::to_string(a.i);
    if (a.kind == ir::AttrKind::kInts) out += ";" + a.name + "=" + dims_text(a.ints);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Result<double> time_interpreter(runtime::Interpreter& interp, const std::map<std::string, Tensor>& feeds, const TimingBudget& budget) {
  using clock = std::chrono::steady_clock;
  EMBER_TRY(interp.run(feeds).status());  // warm-up: packing, first-touch allocations
  std::vector<double> runs;
  const auto start = clock::now();
  for (;;) {
    const auto t0 = clock::now();
    EMBER_TRY(interp.run(feeds).status());
    runs.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    const double spent = std::chrono::duration<double>(clock::now() - start).count();
    const int n = int(runs.size());
    if (n >= budget.max_runs || (n >= 3 && spent >= budget.max_seconds)) break;
    if (n >= budget.min_runs && spent >= budget.min_seconds) break;
  }
  return median(runs);
}

runtime::InterpreterOptions deployed_options(int threads) {
  runtime::InterpreterOptions io;  // as ember-rt's session runs a model (deploy/session.cc)
  io.threads = threads;
  io.fuse_float = true;
  return io;
}

}  // namespace

std::string kernel_precision(const LayerAction& a) {
  switch (a.kind) {
    case LayerAction::Kind::kKeepFloat: return "fp32";
    case LayerAction::Kind::kInt8: return (a.block > 0 ? "int8-b" + std::to_string(a.block) : "int8") + (a.symmetric ? "" : "-asym");
    case LayerAction::Kind::kInt4: return "int4-b" + std::to_string(a.block) + (a.symmetric ? "" : "-asym");
    case LayerAction::Kind::kPrune: return action_name(a);
  }
  return "fp32";
}

Result<double> time_model(const ir::Model& model, const std::map<std::string, Tensor>& feeds, int threads, const TimingBudget& budget) {
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model, deployed_options(threads)));
  return time_interpreter(*interp, feeds, budget);
}

Result<std::unique_ptr<LayerTimer>> LayerTimer::create(const ir::Model& prepared, const std::map<std::string, Tensor>& feeds,
                                                       const std::vector<SearchLayer>& layers, int threads) {
  auto t = std::make_unique<LayerTimer>();
  t->prepared_ = &prepared;
  t->layers_ = layers;
  t->threads_ = threads;
  t->feeds_ = feeds;
  std::set<std::string> wanted;
  for (const auto& layer : layers) {
    std::vector<ir::Node> readers;
    for (const auto& node : prepared.graph.nodes)
      if (std::find(node.inputs.begin(), node.inputs.end(), layer.weight) != node.inputs.end()) readers.push_back(node);
    if (readers.empty()) return internal_error("latency: no node reads the weight '" + layer.weight + "'");
    for (const auto& node : readers) {
      for (const auto& in : node.inputs)
        if (!in.empty() && !prepared.graph.find_initializer(in)) wanted.insert(in);
      for (const auto& out : node.outputs)
        if (!out.empty()) wanted.insert(out);
    }
    t->readers_.push_back(std::move(readers));
  }
  std::vector<std::string> fetch;
  for (const auto& name : wanted) {
    auto it = feeds.find(name);
    if (it != feeds.end()) t->values_[name] = it->second;
    else fetch.push_back(name);
  }
  runtime::InterpreterOptions io;
  io.threads = threads;
  io.fold_constants = false;  // every reader stays a node whose inputs can be fetched
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(prepared, io));
  EMBER_ASSIGN_OR_RETURN(auto got, interp->run_and_fetch(feeds, fetch));
  for (auto& [name, value] : got) t->values_[name] = std::move(value);
  return t;
}

std::string LayerTimer::machine() const {
  return std::string(runtime::isa_name(runtime::isa_level())) + " t" + std::to_string(runtime::effective_threads(threads_));
}

std::string LayerTimer::key(size_t i, const LayerAction& action) const {
  std::string ops;
  for (const auto& node : readers_[i]) {
    ops += (ops.empty() ? "" : " ") + node.op_type + "(";
    bool first = true;
    for (const auto& in : node.inputs) {
      ops += first ? "" : ",";
      first = false;
      if (in.empty()) continue;
      const Tensor* init = prepared_->graph.find_initializer(in);
      auto value = values_.find(in);
      ops += (in == layers_[i].weight ? "W" : "") +
             (init ? dims_text(init->shape()) : value != values_.end() ? dims_text(value->second.shape()) : std::string("?"));
    }
    ops += attrs_text(node) + ")";
  }
  return machine() + " | " + ops + " | " + kernel_precision(action);
}

Result<LayerTimer::InContext> LayerTimer::time_in_context(const std::vector<LayerAction>& actions, const TimingBudget& budget) const {
  using clock = std::chrono::steady_clock;
  std::vector<LayerAction> rtn = actions;
  for (auto& a : rtn)
    if (a.kind == LayerAction::Kind::kPrune) return unsupported("latency: pruning actions are not timed");
    else a.method = "rtn", a.static_activations = false, a.ratio = 0;  // the same format and kernels as GPTQ or
                                                  // AWQ, without calibration; static activations timed as dynamic INT8,
                                                  // a pruned precision as the unpruned one (its key is the precision's)
  ir::Model model = *prepared_;
  EMBER_ASSIGN_OR_RETURN(std::vector<PipelineEntry> entries, realize_actions(layers_, rtn));
  EMBER_ASSIGN_OR_RETURN(PassManager manager, PassManager::from_entries(std::move(entries)));
  AnalysisManager analyses;
  Remarks remarks;
  PassContext ctx(analyses, remarks, nullptr);
  EMBER_TRY(manager.run(model, ctx).with_context("latency"));
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model, deployed_options(threads_)));
  // The running model's nodes that read a layer's weight (or what quantize-weights made of it,
  // "<weight>_quantized", ...) carry its time: the interpreter may have fused or split the
  // original readers (an INT8 matmul absorbs the Split after it), so their outputs are not the
  // original ones.
  std::map<std::string, size_t> by_weight;
  for (size_t i = 0; i < layers_.size(); ++i) by_weight[layers_[i].weight] = i;
  std::map<std::string, size_t> layer_of;
  for (const auto& node : interp->model().graph.nodes) {
    std::optional<size_t> layer;
    for (const auto& in : node.inputs) {
      auto it = by_weight.upper_bound(in);  // the longest weight name that is a prefix of `in`
      while (it != by_weight.begin() && !layer) {
        --it;
        if (in.compare(0, it->first.size(), it->first) != 0) break;
        if (in.size() == it->first.size() || in[it->first.size()] == '_') layer = it->second;
      }
    }
    if (layer)
      for (const auto& out : node.outputs) layer_of[out] = *layer;
  }
  std::vector<std::vector<double>> samples(layers_.size());
  std::vector<double> wholes, outside;
  clock::time_point last;
  std::vector<double> run_times(layers_.size());
  std::optional<size_t> segment;  // the layer whose segment is running
  const runtime::ValueObserver observe = [&](const std::string& name, const Tensor&) -> Status {
    const clock::time_point now = clock::now();
    auto it = layer_of.find(name);
    if (it != layer_of.end()) segment = it->second;
    if (segment) run_times[*segment] += std::chrono::duration<double>(now - last).count();
    last = now;
    return Status::Ok();
  };
  EMBER_TRY(interp->run(feeds_).status());  // warm-up: packing, first-touch allocations
  const auto start = clock::now();
  for (int n = 1;; ++n) {
    std::fill(run_times.begin(), run_times.end(), 0.0);
    segment.reset();
    last = clock::now();
    const auto t0 = last;
    EMBER_TRY(interp->run(feeds_, observe).status());
    wholes.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    double in_layers = 0;
    for (size_t i = 0; i < layers_.size(); ++i) samples[i].push_back(run_times[i]), in_layers += run_times[i];
    outside.push_back(std::max(0.0, wholes.back() - in_layers));
    const double spent = std::chrono::duration<double>(clock::now() - start).count();
    if (n >= budget.max_runs || (n >= 3 && spent >= budget.max_seconds)) break;
    if (n >= budget.min_runs && spent >= budget.min_seconds) break;
  }
  InContext out;
  for (auto& s : samples) out.layer_seconds.push_back(median(std::move(s)));
  out.whole_seconds = median(std::move(wholes));
  out.outside_seconds = median(std::move(outside));
  return out;
}

}  // namespace ember::passes::search
