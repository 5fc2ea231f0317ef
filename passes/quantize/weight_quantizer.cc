#include "passes/quantize/weight_quantizer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "passes/cleanup/opset_upgrade.h"
#include "passes/quantize/awq.h"
#include "passes/quantize/block_stream.h"
#include "passes/quantize/gptq.h"
#include "passes/quantize/importance_protect.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/quantize/qdq_emit.h"
#include "passes/quantize/rtn_stored.h"
#include "formats/external_data_writer.h"
#include "formats/mapped_file.h"
#include "passes/quantize/weight_quant_options.h"
#include "passes/quantize/subgraph_weights.h"
#include "passes/quantize/weight_targets.h"
#include "passes/quantize/weight_views.h"
#include "passes/graph_edit.h"

namespace ember::passes {
namespace {

using analysis::LayerInputStats;
using quant::Method;
using quant::QuantizedMatrix;
using quant::WeightQuantOptions;
using quant::Layer;

constexpr std::string_view kPassName = "quantize-weights";
constexpr int64_t kOutputErrorRows = 128;  // output channels sampled for the output error

std::string format_record(const QuantizedTensorRecord& r) {
  char numbers[160];
  std::snprintf(numbers, sizeof numbers, "bytes=%zu->%zu | error=%.6g | output_error=%.6g", r.bytes_before, r.bytes_after,
                r.error, r.output_error);
  return "tensor " + r.name + " | op=" + r.op + " | scheme=" + r.scheme + " | bits=" + std::to_string(r.bits) +
         " | block=" + std::to_string(r.block) + " | sym=" + (r.symmetric ? "1" : "0") + " | method=" + r.method +
         " | format=" + r.format + " | " + numbers;
}

// Folds weight views (weight_views.h) in every graph and moves outer weights into the body
// that reads them (subgraph_weights.h); returns how many weights changed place or form.
size_t prepare_weights(ir::Model& model) {
  // Move, fold, move: a body's view of an outer weight folds once the weight is in the body,
  // and a folded main-graph view read only by a body then moves into it.
  size_t changed = quant::move_weights_into_subgraphs(model.graph);
  ir::for_each_graph(model.graph, [&](ir::Graph& g) { changed += quant::fold_weight_views(g); });
  changed += quant::move_weights_into_subgraphs(model.graph);
  return changed;
}

// Distinct activations of a target's linear uses.
std::set<std::string> activations_of(const Layer& t) {
  std::set<std::string> out;
  for (const auto& u : t.uses)
    if (u.linear()) out.insert(u.activation);
  return out;
}

// The summed Hessian of a target over its inputs, when every use is linear and observed.
std::optional<std::vector<float>> hessian_of(const Layer& t, const std::map<std::string, LayerInputStats>& stats) {
  if (!t.all_uses_linear()) return std::nullopt;
  std::optional<quant::HessianAccumulator> sum;
  for (const auto& a : activations_of(t)) {
    auto it = stats.find(a);
    if (it == stats.end() || it->second.dim != t.reduction || it->second.xtx->samples() == 0) return std::nullopt;
    if (!sum) sum.emplace(t.reduction);
    sum->merge(*it->second.xtx);
  }
  if (!sum) return std::nullopt;
  return sum->hessian();
}

// AWQ for every activation read only by covered linear layers: search s, fold 1/s into the
// producer, and scale the layers' weights by s in the graph. Returns weight -> s.
std::map<std::string, std::vector<float>> apply_awq(ir::Graph& graph, const std::vector<Layer>& targets,
                                                    const std::map<std::string, LayerInputStats>& stats,
                                                    const WeightQuantOptions& opts,
                                                    const std::function<void(std::string)>& note) {
  std::map<std::string, std::vector<float>> awq_scales;
  std::map<std::string, std::vector<const Layer*>> groups;
  for (const auto& t : targets) {
    const auto acts = activations_of(t);
    if (t.all_uses_linear() && acts.size() == 1 && stats.count(*acts.begin())) groups[*acts.begin()].push_back(&t);
  }
  for (const auto& [act, members] : groups) {
    const LayerInputStats& st = stats.at(act);
    std::set<size_t> readers;
    for (const auto* t : members)
      for (const auto& u : t->uses) readers.insert(u.node);
    const auto site = quant::find_fold_site(graph, act, readers, st.dim);
    if (!site) {
      note("awq: activation '" + act + "' has no producer that can absorb 1/s; its layers are not scaled");
      continue;
    }
    std::vector<std::vector<float>> canon;
    std::vector<quant::AwqLayer> layers;
    for (const auto* t : members) canon.push_back(analysis::canonical_matrix(*t, graph.initializers.at(t->weight)));
    for (size_t i = 0; i < members.size(); ++i) layers.push_back({canon[i].data(), members[i]->channels});
    const int64_t group = opts.block > 0 ? opts.block : st.dim;
    const quant::AwqChoice choice =
        quant::awq_search(layers, st.dim, st.mean_abs(), st.xtx->hessian(), group, opts.format, opts.clip);
    char text[160];
    std::snprintf(text, sizeof text, "alpha=%.2f, output error %.4g (rtn %.4g)", choice.alpha, choice.error, choice.error_unscaled);
    if (choice.alpha == 0.0f) {
      note("awq: activation '" + act + "': " + text + ", left unscaled");
      continue;
    }
    quant::apply_fold(graph, *site, choice.scales);
    for (size_t i = 0; i < members.size(); ++i) {
      std::vector<float>& w = canon[i];
      for (size_t e = 0; e < w.size(); ++e) w[e] *= choice.scales[e % size_t(st.dim)];
      graph.set_initializer(members[i]->weight, analysis::from_canonical(*members[i], w));
      awq_scales[members[i]->weight] = choice.scales;
    }
    note("awq: activation '" + act + "': " + text + ", 1/s folded into " + site->describe());
  }
  return awq_scales;
}

// Quantizes one target's canonical matrix w with the configured method; fills r.method.
// GPTQ consumes the Hessian (its factor takes the place); it is rebuilt from `stats` after.
QuantizedMatrix quantize_target(const Layer& t, const std::vector<float>& w, const WeightQuantOptions& opts,
                                std::optional<std::vector<float>>& hessian, const std::map<std::string, LayerInputStats>& stats,
                                const std::vector<float>* s, QuantizedTensorRecord& r,
                                const std::function<void(std::string)>& note) {
  const int64_t group = opts.block > 0 ? opts.block : t.reduction;
  r.method = s ? "awq" : "rtn";
  if (opts.method == Method::kGptq && hessian) {
    quant::GptqOptions g;
    g.damp = opts.damp;
    g.clip = opts.clip;
    auto result = quant::gptq_quantize(w.data(), t.channels, t.reduction, group, opts.format, std::move(*hessian), g);
    hessian = hessian_of(t, stats);
    if (result.ok()) {
      r.method = "gptq";
      return std::move(result).value();
    }
    note("gptq: " + t.weight + ": " + result.status().message() + "; using rtn");
  }
  // Clipping weighs each input channel by its mean squared activation (over s^2 after AWQ).
  std::vector<float> col_weight;
  if (hessian) {
    col_weight.resize(size_t(t.reduction));
    for (int64_t k = 0; k < t.reduction; ++k) {
      const float sk = s ? (*s)[size_t(k)] : 1.0f;
      col_weight[size_t(k)] = static_cast<float>((*hessian)[size_t(k * t.reduction + k)]) / (sk * sk);
    }
  }
  return quant::quantize_rtn(w.data(), t.channels, t.reduction, group, opts.format, opts.clip,
                             col_weight.empty() ? nullptr : col_weight.data());
}

struct EmitTotals {
  int64_t min_opset = 0;
  bool any_nbits = false;
  size_t bytes_before = 0, bytes_after = 0, nbits = 0, dq_nodes = 0;
};

// What quantize_layers needs besides the targets.
struct LayerPlan {
  const WeightQuantOptions& opts;
  const WeightQuantOptions& int8_opts;  // for protected layers
  const std::set<std::string>& protect;
  const std::map<std::string, LayerInputStats>& stats;
  const std::map<std::string, std::vector<float>>& awq_scales;
  const std::function<void(std::string)>& note;
  formats::ExternalDataWriter* writer = nullptr;  // main-graph layers: their outputs are written as they come
};

// The source weight's bytes, once it has left the graph: its whole pages are dropped from this
// process's memory when they lie in a mapped file (external data) and no initializer still
// views them (formats::release_mapped_pages), so quantizing a model larger than memory holds
// a few layers of it at a time, not all of it. `copied` (a weight whose canonical copy was
// just taken) may still view them: a later read faults the file's bytes back in.
void release_source(const ir::Graph& graph, const void* data, size_t bytes, const std::string& copied = "") {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data), end = begin + bytes;
  for (const auto& [name, tensor] : graph.initializers) {
    const uintptr_t b = reinterpret_cast<uintptr_t>(tensor.raw());
    if (name != copied && b && b < end && begin < b + tensor.nbytes()) return;
  }
  formats::release_mapped_pages(data, bytes);
}

// Quantizes one target with `to` and emits it; fills r's method, block, scheme and error.
// Plain round to nearest into QDQ goes straight from the stored layout (rtn_stored.h); the
// other methods and MatMulNBits work on the canonical matrix.
Result<quant::EmitResult> quantize_and_emit(ir::Graph& graph, const Layer& t, const WeightQuantOptions& to,
                                            std::optional<std::vector<float>> hessian, const std::vector<float>* s,
                                            QuantizedTensorRecord& r, const LayerPlan& plan, quant::GraphEdits& edits) {
  const Tensor& weight = graph.initializers.at(t.weight);
  const bool maybe_nbits = to.ort && to.format.bits == 4;
  auto scheme = [&](int64_t group) {
    r.block = group < t.reduction ? group : 0;
    r.scheme = to.format.text();
    r.scheme.insert(r.scheme.find(' '), group < t.reduction ? " b" + std::to_string(group) : " per-channel");
    r.scheme += " " + r.method;
  };
  if (!hessian && !s && !maybe_nbits && quant::rtn_stored_blocker(t, weight, to.format).empty()) {
    quant::StoredRtn q = quant::quantize_rtn_stored(t, weight, to.block, to.format, to.clip);
    r.method = "rtn";
    r.error = q.error;
    scheme(q.tensors.group);
    return quant::emit_qdq_tensors(graph, t, std::move(q.tensors), edits);
  }
  const std::vector<float> w = analysis::canonical_matrix(t, weight);
  release_source(graph, weight.raw(), weight.nbytes(), t.weight);  // w replaces it from here on
  const QuantizedMatrix q = quantize_target(t, w, to, hessian, plan.stats, s, r, plan.note);
  const quant::WeightError e = quant::weight_error(w, q, s, hessian ? &*hessian : nullptr, kOutputErrorRows);
  r.error = e.error;
  if (hessian) r.output_error = e.output_error;
  scheme(q.group);
  const std::string blocker = to.ort ? quant::matmul_nbits_blocker(graph, t, q, to.block) : "not requested";
  if (blocker.empty()) return quant::emit_matmul_nbits(graph, t, q, to.block, edits);
  if (to.ort && to.format.bits == 4) plan.note("format=ort: " + t.weight + " stays QDQ: " + blocker);
  return quant::emit_qdq(graph, t, q, edits);
}

// Quantizes and emits every target of one graph; appends the records. Each source weight's
// pages are released once it is replaced. The node edits wait in `edits`.
Status quantize_layers(ir::Graph& graph, const std::vector<Layer>& targets, const LayerPlan& plan,
                       std::vector<QuantizedTensorRecord>& records, EmitTotals& totals, quant::GraphEdits& edits) {
  const WeightQuantOptions& opts = plan.opts;
  size_t handed = edits.added_initializers.size();
  for (const Layer& t : targets) {
    const WeightQuantOptions& to = plan.protect.count(t.weight) ? plan.int8_opts : opts;
    const Tensor& weight = graph.initializers.at(t.weight);
    const void* source = weight.raw();
    QuantizedTensorRecord r;
    r.name = t.weight;
    r.op = t.op_types();
    r.bits = to.format.bits;
    r.symmetric = to.format.symmetric;
    r.bytes_before = weight.nbytes();
    std::optional<std::vector<float>> hessian = opts.method == Method::kRtn ? std::nullopt : hessian_of(t, plan.stats);
    auto scaled = plan.awq_scales.find(t.weight);
    const std::vector<float>* s = scaled == plan.awq_scales.end() ? nullptr : &scaled->second;
    EMBER_ASSIGN_OR_RETURN(const quant::EmitResult emitted, quantize_and_emit(graph, t, to, std::move(hessian), s, r, plan, edits));
    release_source(graph, source, r.bytes_before);
    for (; plan.writer && handed < edits.added_initializers.size(); ++handed)
      plan.writer->append(graph.initializers.at(edits.added_initializers[handed]));
    if (emitted.matmul_nbits) {
      ++totals.nbits;
      totals.any_nbits = true;
    } else {
      totals.min_opset = std::max(totals.min_opset, emitted.min_opset);
      ++totals.dq_nodes;
    }
    r.format = emitted.matmul_nbits ? "matmul-nbits" : "qdq";
    r.bytes_after = emitted.bytes;
    totals.bytes_before += r.bytes_before;
    totals.bytes_after += r.bytes_after;
    plan.note(format_record(r));
    records.push_back(std::move(r));
  }
  return Status::Ok();
}

Status quantize_layers(ir::Graph& graph, const std::vector<Layer>& targets, const LayerPlan& plan,
                       std::vector<QuantizedTensorRecord>& records, EmitTotals& totals) {
  quant::GraphEdits edits;
  EMBER_TRY(quantize_layers(graph, targets, plan, records, totals, edits));
  edits.apply(graph);
  return Status::Ok();
}

// GPTQ with the calibration run one block of layers at a time (block_stream.h): the layers are
// quantized block by block, each with its own statistics; records come back in target order.
Status quantize_streamed(ir::Model& model, const calibration::CalibrationSet& calib, const std::vector<Layer>& targets,
                         const LayerPlan& plan, std::vector<QuantizedTensorRecord>& records, EmitTotals& totals,
                         quant::BlockStreamReport& report) {
  const WeightQuantOptions& opts = plan.opts;
  quant::BlockStreamOptions bo;
  bo.max_rows = opts.calib_rows;
  bo.batch_rows = opts.batch;
  bo.block_bytes = opts.block_bytes;
  bo.quantized_inputs = opts.sequential == quant::Sequential::kQuantized;
  quant::GraphEdits edits;
  const size_t first = records.size();
  auto quantize_block = [&](const std::vector<Layer>& block, const std::map<std::string, LayerInputStats>& stats) -> Status {
    for (const Layer& t : block)
      if (t.all_uses_linear())
        for (const auto& a : activations_of(t))
          if (!stats.count(a)) plan.note("activation '" + a + "' was not observed; its layers use rtn");
    const LayerPlan block_plan{plan.opts, plan.int8_opts, plan.protect, stats, plan.awq_scales, plan.note, plan.writer};
    return quantize_layers(model.graph, block, block_plan, records, totals, edits);
  };
  EMBER_TRY(quant::stream_layer_blocks(model, calib, targets, edits, bo, quantize_block, report));
  edits.apply(model.graph);
  std::map<std::string, size_t> order;
  for (size_t i = 0; i < targets.size(); ++i) order.emplace(targets[i].weight, i);
  std::stable_sort(records.begin() + std::ptrdiff_t(first), records.end(),
                   [&](const QuantizedTensorRecord& a, const QuantizedTensorRecord& b) { return order[a.name] < order[b.name]; });
  return Status::Ok();
}

// The bodies of If / Loop / Scan nodes, nested ones too.
std::vector<ir::Graph*> subgraph_bodies(ir::Model& model) {
  std::vector<ir::Graph*> bodies;
  ir::for_each_graph(model.graph, [&](ir::Graph& g) {
    if (&g != &model.graph) bodies.push_back(&g);
  });
  return bodies;
}

bool bodies_have_targets(ir::Model& model, const quant::TargetFilter& filter) {
  for (ir::Graph* body : subgraph_bodies(model))
    if (!quant::find_weight_targets(*body, filter).targets.empty()) return true;
  return false;
}

// Quantizes the weights of every subgraph body (subgraph_weights.h moves outer weights in first).
// GPTQ uses the statistics of a body layer's input gathered over every run of its body
// (analysis/layer_inputs.h); AWQ, which folds scales into the producers, and layers without
// statistics use round to nearest.
Status quantize_subgraphs(ir::Model& model, const quant::TargetFilter& filter, const WeightQuantOptions& opts,
                          const WeightQuantOptions& int8_opts, const std::set<std::string>& protect,
                          const std::map<std::string, LayerInputStats>& stats, const std::function<void(std::string)>& note,
                          QuantizeWeightsResult& result, EmitTotals& totals) {
  const std::vector<ir::Graph*> bodies = subgraph_bodies(model);
  if (bodies.empty()) return Status::Ok();
  static const std::map<std::string, std::vector<float>> kNoScales;
  WeightQuantOptions in_body = opts;
  if (opts.method != Method::kGptq) in_body.method = Method::kRtn;
  const size_t before = result.tensors.size();
  for (ir::Graph* body : bodies) {
    quant::TargetScan scan = quant::find_weight_targets(*body, filter);
    if (opts.format.bits == 8)  // protected layers keep float at INT8 (INT4: they take INT8), as in the main graph
      std::erase_if(scan.targets, [&](const Layer& t) {
        if (protect.count(t.weight)) scan.skipped.push_back({t.weight, "protected: among the most sensitive layers"});
        return protect.count(t.weight) > 0;
      });
    for (const auto& s : scan.skipped) {
      note("skipped " + s.name + " (in a subgraph): " + s.reason);
      result.skipped.push_back({s.name, s.reason});
    }
    EMBER_TRY(quantize_layers(*body, scan.targets, {in_body, int8_opts, protect, stats, kNoScales, note}, result.tensors, totals));
  }
  if (opts.method == Method::kAwq && result.tensors.size() > before)
    note(std::to_string(result.tensors.size() - before) + " subgraph weights used rtn: awq folds scales into producers, "
         "which bodies do not rewrite");
  return Status::Ok();
}

}  // namespace

std::vector<OptionSpec> WeightQuantization::option_specs() { return quant::weight_quant_option_specs(); }

PreservedAnalyses WeightQuantization::preserved() const {
  auto opts = quant::parse_weight_quant_options(options_);
  if (!opts.ok() || opts->method == Method::kAwq) return PreservedAnalyses::none();
  return PreservedAnalyses::none().preserve(analysis::LayerInputAnalysis::kName);
}

nlohmann::json QuantizeWeightsResult::to_json() const {
  nlohmann::json tensors_json = nlohmann::json::array();
  for (const auto& r : tensors)
    tensors_json.push_back({{"name", r.name}, {"op", r.op}, {"scheme", r.scheme}, {"bits", r.bits}, {"block", r.block},
                            {"symmetric", r.symmetric}, {"method", r.method}, {"format", r.format},
                            {"bytes_before", r.bytes_before}, {"bytes_after", r.bytes_after}, {"error", r.error},
                            {"output_error", r.output_error}});
  nlohmann::json skipped_json = nlohmann::json::array();
  for (const auto& s : skipped) skipped_json.push_back({{"name", s.name}, {"reason", s.reason}});
  return {{"tensors", tensors_json}, {"skipped", skipped_json}};
}

Status WeightQuantization::run(ir::Model& model, PassContext& ctx) {
  auto result = std::make_shared<QuantizeWeightsResult>();
  result_ = result;
  std::vector<QuantizedTensorRecord>& records = result->tensors;
  EMBER_ASSIGN_OR_RETURN(const WeightQuantOptions opts, quant::parse_weight_quant_options(options_));
  if ((opts.method != Method::kRtn || opts.protect > 0) && !ctx.calib)
    return invalid_input("quantize-weights: method=" + opts.method_name() +
                         (opts.protect > 0 ? " with protect" : "") +
                         " needs calibration data (--calib FILE) to measure layer inputs; use method=rtn without it");
  const std::function<void(std::string)> note = [&](std::string message) { ctx.remarks.note(kPassName, std::move(message)); };
  auto count = [&](const std::string& counter, double value) { ctx.remarks.count(kPassName, counter, value); };
  ir::Graph& graph = model.graph;
  quant::TargetFilter filter;
  filter.ops = opts.ops;
  filter.exclude = opts.exclude;
  filter.include = opts.include;
  filter.min_size = opts.min_size;
  const size_t views = prepare_weights(model);
  if (views > 0) note(std::to_string(views) + " weights read through Identity, Cast or Transpose, or from a subgraph, now sit where their reader is");
  quant::TargetScan scan = quant::find_weight_targets(graph, filter);
  EMBER_ASSIGN_OR_RETURN(const std::vector<std::string> sensitive,
                         quant::most_sensitive_layers(model, ctx, scan.targets, opts.format.bits, opts.block, opts.protect));
  const std::set<std::string> protect(sensitive.begin(), sensitive.end());
  for (const auto& name : sensitive) note("protect: " + name + " keeps " + (opts.format.bits == 4 ? "int8" : "float"));
  if (opts.format.bits == 8)
    std::erase_if(scan.targets, [&](const Layer& t) {
      if (!protect.count(t.weight)) return false;
      scan.skipped.push_back({t.weight, "protected: among the " + std::to_string(opts.protect) + " most sensitive layers"});
      return true;
    });
  // Protected INT4 layers are quantized as INT8 per channel.
  WeightQuantOptions int8_opts = opts;
  int8_opts.format.bits = 8;
  int8_opts.block = 0;
  int8_opts.clip = quant::ClipMode::kNone;
  for (const auto& s : scan.skipped) {
    note("skipped " + s.name + ": " + s.reason);
    result->skipped.push_back({s.name, s.reason});
  }
  const bool has_bodies = !subgraph_bodies(model).empty();
  if ((!scan.targets.empty() || has_bodies) && model.opset_version("") < 13) {  // DequantizeLinear with an axis needs 13
    EMBER_ASSIGN_OR_RETURN(OpsetUpgradeResult up, upgrade_default_opset(model, 13));
    note("upgraded the default-domain opset from " + std::to_string(up.from) + " to 13 (" +
         std::to_string(up.nodes_rewritten) + " nodes rewritten) for per-channel DequantizeLinear");
  }
  count("weights-skipped", double(scan.skipped.size()));

  // Calibration statistics of the layer inputs, from the float model.
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  std::shared_ptr<const analysis::LayerInputAnalysis::Output> observed;
  bool streamed = opts.method == Method::kGptq && opts.sequential != quant::Sequential::kOff;
  if (streamed) {
    const std::string blocker = quant::block_stream_blocker(graph);
    if (!blocker.empty()) note("sequential: " + blocker + "; the whole model runs at once instead");
    streamed = blocker.empty();
  }
  // GPTQ of body layers needs their inputs' statistics, which the block stream does not gather.
  const bool body_stats = opts.method == Method::kGptq && streamed && bodies_have_targets(model, filter);
  if ((opts.method != Method::kRtn && !streamed) || body_stats) {
    const auto start = Clock::now();
    analysis::LayerInputAnalysis::Options request;
    request.max_rows = opts.calib_rows;
    request.batch_rows = opts.batch;
    EMBER_ASSIGN_OR_RETURN(observed, ctx.analyses.get<analysis::LayerInputAnalysis>(model, request));
    std::set<std::string> wanted;
    for (const auto& t : scan.targets)
      if (t.all_uses_linear())
        for (const auto& a : activations_of(t)) wanted.insert(a);
    for (const auto& a : wanted) {
      auto it = observed->stats.find(a);
      if (it == observed->stats.end()) note("activation '" + a + "' was not observed; its layers use rtn");
    }
    count("calibration-seconds", seconds_since(start));
  }
  static const std::map<std::string, LayerInputStats> kNoStats;
  const std::map<std::string, LayerInputStats>& stats = observed ? observed->stats : kNoStats;
  const auto quantize_start = Clock::now();

  // AWQ: per shared activation, search the scales, fold 1/s into the producer, scale the weights.
  const std::map<std::string, std::vector<float>> awq_scales =
      opts.method == Method::kAwq ? apply_awq(graph, scan.targets, stats, opts, note) : std::map<std::string, std::vector<float>>{};

  EmitTotals totals;
  if (streamed) {
    quant::BlockStreamReport streamed_report;
    EMBER_TRY(quantize_streamed(model, *ctx.calib, scan.targets, {opts, int8_opts, protect, stats, awq_scales, note, ctx.data_writer},
                                records, totals, streamed_report));
    count("calibration-seconds", streamed_report.calibration_seconds);
    count("sequential-blocks", double(streamed_report.blocks));
  } else {
    EMBER_TRY(quantize_layers(graph, scan.targets, {opts, int8_opts, protect, stats, awq_scales, note, ctx.data_writer}, records,
                              totals));
  }
  // Weights of If / Loop / Scan bodies: each body's own layers.
  EMBER_TRY(quantize_subgraphs(model, filter, opts, int8_opts, protect, stats, note, *result, totals));
  const int64_t min_opset = totals.min_opset;
  const bool any_nbits = totals.any_nbits;
  const size_t bytes_before = totals.bytes_before, bytes_after = totals.bytes_after, nbits = totals.nbits,
               dq_nodes = totals.dq_nodes;
  if (min_opset > 0) EMBER_TRY(quant::raise_default_opset(model, min_opset));
  if (any_nbits && model.opset_version("com.microsoft") < 1) model.set_opset_version("com.microsoft", 1);
  count("quantize-seconds", seconds_since(quantize_start));
  count("weights-quantized", double(records.size()));
  count("bytes-before", double(bytes_before));
  count("bytes-after", double(bytes_after));
  count("matmul-nbits", double(nbits));
  count("dequantize-nodes", double(dq_nodes));
  return Status::Ok();
}

}  // namespace ember::passes
