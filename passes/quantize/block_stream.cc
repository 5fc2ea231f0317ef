#include "passes/quantize/block_stream.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>

#include "calibration/dataset.h"
#include "runtime/interpreter.h"

namespace ember::passes::quant {
namespace {

using analysis::CalibrationUnit;
using analysis::LayerInputCollector;
using analysis::LayerInputRequest;
using analysis::LayerInputStats;
using Clock = std::chrono::steady_clock;
using Feeds = std::map<std::string, Tensor>;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Node range [begin, end) of the main graph, and what it reads and leaves for later blocks.
struct Block {
  size_t begin = 0, end = 0;
  std::vector<LayerInputRequest> watches;  // activations whose first linear reader is here
  std::vector<size_t> done;                // targets whose last reader is here (indices into targets)
};

struct Plan {
  std::vector<Block> blocks;
  std::unordered_map<std::string, size_t> last_reader;  // value -> last node reading it
  std::set<std::string> graph_outputs;
};

size_t last_use(const Layer& t) {
  size_t last = 0;
  for (const auto& u : t.uses) last = std::max(last, u.node);
  return last;
}

// Cuts the nodes into blocks of about `block_bytes` of layer weights (counted at their first
// reader); the first block extends until it holds a linear layer's input.
Plan plan_blocks(const ir::Graph& graph, const std::vector<Layer>& targets, int64_t block_bytes) {
  Plan plan;
  const size_t n = graph.nodes.size();
  std::vector<int64_t> bytes_at(n, 0);
  std::map<std::string, std::pair<size_t, int64_t>> first_linear;  // activation -> (node, dim)
  for (const Layer& t : targets) {
    bytes_at[t.uses.front().node] += t.channels * t.reduction * int64_t(sizeof(float));
    if (!t.all_uses_linear()) continue;
    for (const auto& u : t.uses) {
      auto [it, fresh] = first_linear.emplace(u.activation, std::make_pair(u.node, t.reduction));
      if (!fresh && u.node < it->second.first) it->second.first = u.node;
    }
  }
  std::vector<std::vector<LayerInputRequest>> watches_at(n);
  for (const auto& [name, at] : first_linear) watches_at[at.first].push_back({name, at.second});
  std::vector<std::vector<size_t>> done_at(n);
  for (size_t i = 0; i < targets.size(); ++i) done_at[last_use(targets[i])].push_back(i);
  for (size_t i = 0; i < n; ++i)
    for (const auto& in : graph.nodes[i].inputs)
      if (!in.empty()) plan.last_reader[in] = i;
  for (const auto& o : graph.outputs) plan.graph_outputs.insert(o.name);

  Block current;
  int64_t bytes = 0;
  bool watched = first_linear.empty();
  for (size_t i = 0; i < n; ++i) {
    bytes += bytes_at[i];
    for (auto& w : watches_at[i]) current.watches.push_back(w), watched = true;
    for (size_t t : done_at[i]) current.done.push_back(t);
    if ((bytes >= block_bytes && watched) || i + 1 == n) {
      current.end = i + 1;
      plan.blocks.push_back(std::move(current));
      current = Block{};
      current.begin = i + 1;
      bytes = 0;
    }
  }
  for (Block& b : plan.blocks) std::sort(b.done.begin(), b.done.end());  // graph (scan) order
  return plan;
}

// A model of the block's nodes as they are now (the pending edits applied to them: emitted
// DequantizeLinear nodes, replaced readers), fed with the values crossing into it, returning
// the values later blocks read.
ir::Model block_model(const ir::Model& model, const Plan& plan, const Block& block, const GraphEdits& edits,
                      const Feeds& crossing) {
  const ir::Graph& graph = model.graph;
  ir::Model sub;
  sub.ir_version = model.ir_version;
  sub.opset_imports = model.opset_imports;
  if (sub.opset_version("com.microsoft") < 1) sub.set_opset_version("com.microsoft", 1);
  std::vector<ir::Node> nodes;
  for (size_t i = block.begin; i < block.end; ++i) {
    if (!edits.removed.count(i)) nodes.push_back(graph.nodes[i]);
    if (auto it = edits.after.find(i); it != edits.after.end()) nodes.insert(nodes.end(), it->second.begin(), it->second.end());
  }
  // Pending DequantizeLinear (+ Reshape) nodes of the weights the block reads.
  std::set<std::string> read;
  for (const auto& node : nodes) read.insert(node.inputs.begin(), node.inputs.end());
  std::vector<ir::Node> front;
  for (auto it = edits.prepend.rbegin(); it != edits.prepend.rend(); ++it)
    if (std::any_of(it->outputs.begin(), it->outputs.end(), [&](const std::string& o) { return read.count(o) > 0; })) {
      read.insert(it->inputs.begin(), it->inputs.end());
      front.insert(front.begin(), *it);
    }
  nodes.insert(nodes.begin(), front.begin(), front.end());
  std::set<std::string> produced;
  for (const auto& node : nodes) {
    for (const auto& in : node.inputs) {
      if (in.empty() || produced.count(in) || sub.graph.initializers.count(in)) continue;
      if (const Tensor* init = graph.find_initializer(in)) {
        sub.graph.set_initializer(in, *init);  // shares the bytes (a view of the mapped source)
        continue;
      }
      auto fed = crossing.find(in);
      if (fed == crossing.end() || std::any_of(sub.graph.inputs.begin(), sub.graph.inputs.end(),
                                               [&](const ir::ValueInfo& v) { return v.name == in; }))
        continue;
      ir::ValueInfo v;
      v.name = in;
      v.elem_type = fed->second.dtype();
      sub.graph.inputs.push_back(v);
    }
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      produced.insert(out);
      auto last = plan.last_reader.find(out);
      if ((last != plan.last_reader.end() && last->second >= block.end) || plan.graph_outputs.count(out)) {
        ir::ValueInfo v;
        v.name = out;
        sub.graph.outputs.push_back(v);
      }
    }
  }
  sub.graph.nodes = std::move(nodes);
  return sub;
}

// Runs the block model on every unit; with a collector, observes its watches (unit 0 first,
// then the sampling is fixed for `needed` units). Returns each unit's outputs by name.
Result<std::vector<Feeds>> run_block(const ir::Model& sub, const std::vector<Feeds>& inputs, LayerInputCollector* collector,
                                     const std::function<int64_t(int64_t)>& on_first_unit, bool reference_dq,
                                     std::vector<Feeds>* more_inputs) {
  runtime::InterpreterOptions io;
  io.integer_kernels = !reference_dq;  // quantized reruns: DequantizeLinear then the float op, as ONNX defines
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(sub, io));
  const std::vector<std::string> names = interp->output_names();
  runtime::ValueObserver observer;
  if (collector) observer = [&](const std::string& name, const Tensor& value) { return collector->observe(name, value); };
  std::vector<Feeds> outputs;
  auto run_one = [&](const Feeds& all) -> Status {
    Feeds feeds;
    for (const auto& v : sub.graph.inputs)
      if (auto it = all.find(v.name); it != all.end()) feeds.emplace(v.name, it->second);
    if (collector)
      for (const auto& [name, t] : feeds) EMBER_TRY(collector->observe(name, t));  // layers reading a block input
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> out, interp->run(feeds, observer));
    Feeds kept;
    for (size_t i = 0; i < names.size() && i < out.size(); ++i) kept.emplace(names[i], std::move(out[i]));
    outputs.push_back(std::move(kept));
    return Status::Ok();
  };
  for (size_t u = 0; u < inputs.size(); ++u) {
    EMBER_TRY(run_one(inputs[u]).with_context("block of nodes " + sub.graph.nodes.front().name + "..., unit " + std::to_string(u)));
    if (u == 0 && on_first_unit && more_inputs) {
      const int64_t needed = on_first_unit(collector ? collector->rows_per_unit() : 1);
      if (collector) collector->set_units_needed(needed);
    }
  }
  if (more_inputs)
    for (size_t u = 0; u < more_inputs->size(); ++u) EMBER_TRY(run_one((*more_inputs)[u]));
  return outputs;
}

}  // namespace

std::string block_stream_blocker(const ir::Graph& graph) {
  for (const auto& node : graph.nodes)
    for (const auto& attr : node.attributes)
      if (attr.g || !attr.graphs.empty()) return "node '" + node.name + "' has a subgraph body";
  return "";
}

Status stream_layer_blocks(ir::Model& model, const calibration::CalibrationSet& calib, const std::vector<Layer>& targets,
                           const GraphEdits& edits, const BlockStreamOptions& options, const QuantizeBlock& quantize,
                           BlockStreamReport& report) {
  const Plan plan = plan_blocks(model.graph, targets, options.block_bytes);
  report.blocks = static_cast<int64_t>(plan.blocks.size());
  // Unit 0's feeds first; the others once the first block has shown the rows a unit gives.
  std::vector<Feeds> units;
  if (calib.num_batches() > 0) units.push_back(analysis::unit_feeds(calib, analysis::calibration_units(calib, options.batch_rows, 1)[0]));
  std::map<std::string, LayerInputStats> stats;
  std::map<std::string, size_t> pending_readers;  // activation -> targets still to quantize
  for (const Layer& t : targets)
    if (t.all_uses_linear())
      for (const auto& u : t.uses) ++pending_readers[u.activation];
  bool first = true;
  int64_t needed = 1;  // units in all, known after the first block's unit 0
  for (const Block& block : plan.blocks) {
    auto start = Clock::now();
    const ir::Model sub = block_model(model, plan, block, edits, units.empty() ? Feeds{} : units[0]);
    LayerInputCollector collector(block.watches, options.max_rows, /*mean_abs=*/true);
    std::vector<Feeds> rest;
    std::function<int64_t(int64_t)> on_first;
    if (first)  // the units the row cap needs, from the rows unit 0 gave
      on_first = [&](int64_t per_unit) {
        needed = analysis::calibration_units_needed(calib, options.batch_rows, options.max_rows, per_unit);
        const auto list = analysis::calibration_units(calib, options.batch_rows, needed);
        for (size_t i = 1; i < list.size(); ++i) rest.push_back(analysis::unit_feeds(calib, list[i]));
        return needed;
      };
    else
      on_first = [&](int64_t) { return needed; };
    std::vector<Feeds> head(units.begin(), units.begin() + std::min<size_t>(1, units.size()));
    std::vector<Feeds> tail(units.begin() + std::min<size_t>(1, units.size()), units.end());
    std::vector<Feeds>* more = first ? &rest : &tail;
    EMBER_ASSIGN_OR_RETURN(std::vector<Feeds> outputs, run_block(sub, head, &collector, on_first, false, more));
    if (first) units.insert(units.end(), rest.begin(), rest.end());
    first = false;
    for (auto& [name, s] : collector.take()) stats.insert_or_assign(name, std::move(s));
    analysis::HessianAccumulator::release_scratch();
    report.calibration_seconds += seconds_since(start);

    start = Clock::now();
    std::vector<Layer> done;
    for (size_t i : block.done) done.push_back(targets[i]);
    if (!done.empty()) EMBER_TRY(quantize(done, stats));
    report.quantize_seconds += seconds_since(start);
    for (const Layer& t : done)
      if (t.all_uses_linear())
        for (const auto& u : t.uses)
          if (--pending_readers[u.activation] == 0) stats.erase(u.activation);

    start = Clock::now();
    if (options.quantized_inputs && !done.empty()) {  // the block again, on its quantized weights
      const ir::Model quantized = block_model(model, plan, block, edits, units[0]);
      EMBER_ASSIGN_OR_RETURN(outputs, run_block(quantized, units, nullptr, nullptr, true, nullptr));
    }
    // Keep what later blocks read: the block's outputs, and the earlier values still read.
    for (size_t u = 0; u < units.size(); ++u) {
      Feeds& kept = units[u];
      std::erase_if(kept, [&](const auto& entry) {
        auto last = plan.last_reader.find(entry.first);
        return last == plan.last_reader.end() || last->second < block.end;
      });
      for (auto& [name, t] : outputs[u]) {
        auto last = plan.last_reader.find(name);
        if (last != plan.last_reader.end() && last->second >= block.end) kept.insert_or_assign(name, std::move(t));
      }
    }
    report.calibration_seconds += seconds_since(start);
  }
  return Status::Ok();
}

}  // namespace ember::passes::quant
