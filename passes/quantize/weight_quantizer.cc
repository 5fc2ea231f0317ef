#include "passes/quantize/weight_quantizer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "passes/cleanup/opset_upgrade.h"
#include "passes/quantize/awq.h"
#include "passes/quantize/gptq.h"
#include "passes/quantize/layer_inputs.h"
#include "passes/quantize/qdq_emit.h"
#include "passes/quantize/weight_quant_options.h"
#include "passes/quantize/weight_targets.h"

namespace ember::passes {
namespace {

using quant::LayerInputStats;
using quant::Method;
using quant::QuantizedMatrix;
using quant::WeightQuantOptions;
using quant::WeightTarget;

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

// ||orig - eff|| / ||orig|| and, with a Hessian, the relative output error (estimated on a
// sample of output channels), where orig = w / s and eff = dequant(q) / s per column
// (s = 1 without AWQ scaling).
void measure(const std::vector<float>& w, const QuantizedMatrix& q, const std::vector<float>* s,
             const std::vector<float>* hessian, QuantizedTensorRecord& r) {
  const int64_t K = q.cols;
  auto orig_at = [&](int64_t row, int64_t c) { return w[size_t(row * K + c)] / (s ? (*s)[size_t(c)] : 1.0f); };
  auto diff_at = [&](int64_t row, int64_t c) { return orig_at(row, c) - q.value(row, c) / (s ? (*s)[size_t(c)] : 1.0f); };
  double num = 0, den = 0;
  for (int64_t row = 0; row < q.rows; ++row)
    for (int64_t c = 0; c < K; ++c) {
      const double o = orig_at(row, c), d = diff_at(row, c);
      num += d * d;
      den += o * o;
    }
  r.error = den > 0 ? std::sqrt(num / den) : 0;
  if (!hessian) return;
  const std::vector<int64_t> rows = quant::sample_rows(q.rows, kOutputErrorRows);
  std::vector<float> orig, d;
  for (int64_t row : rows)
    for (int64_t c = 0; c < K; ++c) {
      orig.push_back(orig_at(row, c));
      d.push_back(diff_at(row, c));
    }
  const std::vector<float> h(hessian->begin(), hessian->end());
  const int64_t n = static_cast<int64_t>(rows.size());
  const double base = quant::hessian_quadratic(orig.data(), n, K, h);
  r.output_error = base > 0 ? quant::hessian_quadratic(d.data(), n, K, h) / base : 0;
}

// Distinct activations of a target's linear uses.
std::set<std::string> activations_of(const WeightTarget& t) {
  std::set<std::string> out;
  for (const auto& u : t.uses)
    if (u.linear()) out.insert(u.activation);
  return out;
}

// The summed Hessian of a target over its inputs, when every use is linear and observed.
std::optional<std::vector<float>> hessian_of(const WeightTarget& t, const std::map<std::string, LayerInputStats>& stats) {
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
std::map<std::string, std::vector<float>> apply_awq(ir::Graph& graph, const std::vector<WeightTarget>& targets,
                                                    const std::map<std::string, LayerInputStats>& stats,
                                                    const WeightQuantOptions& opts,
                                                    const std::function<void(std::string)>& note) {
  std::map<std::string, std::vector<float>> awq_scales;
  std::map<std::string, std::vector<const WeightTarget*>> groups;
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
    for (const auto* t : members) canon.push_back(quant::canonical_matrix(*t, graph.initializers.at(t->name)));
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
      graph.set_initializer(members[i]->name, quant::from_canonical(*members[i], w));
      awq_scales[members[i]->name] = choice.scales;
    }
    note("awq: activation '" + act + "': " + text + ", 1/s folded into " + site->describe());
  }
  return awq_scales;
}

// Quantizes one target's canonical matrix w with the configured method; fills r.method.
QuantizedMatrix quantize_target(const WeightTarget& t, const std::vector<float>& w, const WeightQuantOptions& opts,
                                const std::optional<std::vector<float>>& hessian, const std::vector<float>* s,
                                QuantizedTensorRecord& r, const std::function<void(std::string)>& note) {
  const int64_t group = opts.block > 0 ? opts.block : t.reduction;
  r.method = s ? "awq" : "rtn";
  if (opts.method == Method::kGptq && hessian) {
    quant::GptqOptions g;
    g.damp = opts.damp;
    g.clip = opts.clip;
    auto result = quant::gptq_quantize(w.data(), t.channels, t.reduction, group, opts.format, *hessian, g);
    if (result.ok()) {
      r.method = "gptq";
      return std::move(result).value();
    }
    note("gptq: " + t.name + ": " + result.status().message() + "; using rtn");
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

}  // namespace

std::vector<OptionSpec> WeightQuantization::option_specs() { return quant::weight_quant_option_specs(); }

std::vector<QuantizedTensorRecord> quantization_records(const Remarks& remarks) {
  std::vector<QuantizedTensorRecord> out;
  for (const auto& e : remarks.entries) {
    if (e.pass != kPassName || e.message.rfind("tensor ", 0) != 0) continue;
    std::vector<std::string> parts;
    size_t start = 7;
    for (size_t bar; (bar = e.message.find(" | ", start)) != std::string::npos; start = bar + 3)
      parts.push_back(e.message.substr(start, bar - start));
    parts.push_back(e.message.substr(start));
    QuantizedTensorRecord r;
    r.name = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) {
      const size_t eq = parts[i].find('=');
      if (eq == std::string::npos) continue;
      const std::string key = parts[i].substr(0, eq), value = parts[i].substr(eq + 1);
      if (key == "op") r.op = value;
      else if (key == "scheme") r.scheme = value;
      else if (key == "bits") r.bits = std::stoi(value);
      else if (key == "block") r.block = std::stoll(value);
      else if (key == "sym") r.symmetric = value == "1";
      else if (key == "method") r.method = value;
      else if (key == "format") r.format = value;
      else if (key == "error") r.error = std::stod(value);
      else if (key == "output_error") r.output_error = std::stod(value);
      else if (key == "bytes") {
        const size_t arrow = value.find("->");
        if (arrow == std::string::npos) continue;
        r.bytes_before = std::stoull(value.substr(0, arrow));
        r.bytes_after = std::stoull(value.substr(arrow + 2));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status WeightQuantization::run(ir::Model& model, PassContext& ctx) {
  records_.clear();
  EMBER_ASSIGN_OR_RETURN(const WeightQuantOptions opts, quant::parse_weight_quant_options(options_));
  if (opts.method != Method::kRtn && !ctx.calib)
    return invalid_input("quantize-weights: method=" + opts.method_name() +
                         " needs calibration data (--calib FILE) to measure layer inputs; use method=rtn without it");
  const std::function<void(std::string)> note = [&](std::string message) {
    if (ctx.remarks) ctx.remarks->note(kPassName, std::move(message));
  };
  auto count = [&](const std::string& counter, double value) {
    if (ctx.remarks) ctx.remarks->count(kPassName, counter, value);
  };
  ir::Graph& graph = model.graph;
  quant::TargetFilter filter;
  filter.ops = opts.ops;
  filter.exclude = opts.exclude;
  filter.min_size = opts.min_size;
  const quant::TargetScan scan = quant::find_weight_targets(graph, filter);
  for (const auto& s : scan.skipped) note("skipped " + s);
  if (!scan.targets.empty() && model.opset_version("") < 13) {  // DequantizeLinear with an axis needs 13
    EMBER_ASSIGN_OR_RETURN(OpsetUpgradeResult up, upgrade_default_opset(model, 13));
    note("upgraded the default-domain opset from " + std::to_string(up.from) + " to 13 (" +
         std::to_string(up.nodes_rewritten) + " nodes rewritten) for per-channel DequantizeLinear");
  }
  count("weights-skipped", double(scan.skipped.size()));

  // Calibration statistics of the layer inputs, from the float model.
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  std::map<std::string, LayerInputStats> stats;
  if (opts.method != Method::kRtn) {
    const auto start = Clock::now();
    std::vector<quant::LayerInputRequest> requests;
    std::set<std::string> requested;
    for (const auto& t : scan.targets)
      if (t.all_uses_linear())
        for (const auto& a : activations_of(t))
          if (requested.insert(a).second) requests.push_back({a, t.reduction});
    EMBER_ASSIGN_OR_RETURN(stats, quant::collect_layer_inputs(model, *ctx.calib, requests, opts.calib_rows,
                                                                    opts.method == Method::kAwq, opts.batch));
    for (const auto& a : requested)
      if (!stats.count(a)) note("activation '" + a + "' was not observed; its layers use rtn");
    count("calibration-seconds", seconds_since(start));
  }
  const auto quantize_start = Clock::now();

  // AWQ: per shared activation, search the scales, fold 1/s into the producer, scale the weights.
  const std::map<std::string, std::vector<float>> awq_scales =
      opts.method == Method::kAwq ? apply_awq(graph, scan.targets, stats, opts, note) : std::map<std::string, std::vector<float>>{};

  quant::GraphEdits edits;
  int64_t min_opset = 0;
  bool any_nbits = false;
  size_t bytes_before = 0, bytes_after = 0, nbits = 0, dq_nodes = 0;
  for (const WeightTarget& t : scan.targets) {
    const Tensor& weight = graph.initializers.at(t.name);
    const std::vector<float> w = quant::canonical_matrix(t, weight);
    QuantizedTensorRecord r;
    r.name = t.name;
    r.op = t.op();
    r.bits = opts.format.bits;
    r.symmetric = opts.format.symmetric;
    r.bytes_before = weight.nbytes();
    const std::optional<std::vector<float>> hessian = opts.method == Method::kRtn ? std::nullopt : hessian_of(t, stats);
    auto scaled = awq_scales.find(t.name);
    const std::vector<float>* s = scaled == awq_scales.end() ? nullptr : &scaled->second;
    const QuantizedMatrix q = quantize_target(t, w, opts, hessian, s, r, note);
    r.block = q.group < t.reduction ? q.group : 0;
    measure(w, q, s, hessian ? &*hessian : nullptr, r);
    r.scheme = opts.format.text();
    r.scheme.insert(r.scheme.find(' '), q.group < t.reduction ? " b" + std::to_string(q.group) : " per-channel");
    r.scheme += " " + r.method;

    std::string blocker = opts.ort ? quant::matmul_nbits_blocker(graph, t, q, opts.block) : "not requested";
    quant::EmitResult emitted;
    if (blocker.empty()) {
      EMBER_ASSIGN_OR_RETURN(emitted, quant::emit_matmul_nbits(graph, t, q, opts.block, edits));
      ++nbits;
      any_nbits = true;
    } else {
      if (opts.ort && opts.format.bits == 4) note("format=ort: " + t.name + " stays QDQ: " + blocker);
      EMBER_ASSIGN_OR_RETURN(emitted, quant::emit_qdq(graph, t, q, edits));
      min_opset = std::max(min_opset, emitted.min_opset);
      ++dq_nodes;
    }
    r.format = emitted.matmul_nbits ? "matmul-nbits" : "qdq";
    r.bytes_after = emitted.bytes;
    bytes_before += r.bytes_before;
    bytes_after += r.bytes_after;
    note(format_record(r));
    records_.push_back(std::move(r));
  }
  edits.apply(graph);
  if (min_opset > 0) EMBER_TRY(quant::raise_default_opset(model, min_opset));
  if (any_nbits && model.opset_version("com.microsoft") < 1) model.set_opset_version("com.microsoft", 1);
  count("quantize-seconds", seconds_since(quantize_start));
  count("weights-quantized", double(records_.size()));
  count("bytes-before", double(bytes_before));
  count("bytes-after", double(bytes_after));
  count("matmul-nbits", double(nbits));
  count("dequantize-nodes", double(dq_nodes));
  return Status::Ok();
}

}  // namespace ember::passes
