#include "passes/report/manifest.h"

#include "passes/budget.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "passes/report/manifest_search.h"

namespace ember::passes {
namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json op_counts(const ir::Model& model) {
  std::map<std::string, std::map<std::string, int>> counts;
  for (const auto& n : model.graph.nodes) ++counts[n.domain.empty() ? "ai.onnx" : n.domain][n.op_type];
  return counts;
}

nlohmann::json runtime_requirements(const ir::Model& model) {
  std::set<std::string> ops, dtypes;
  for (const auto& n : model.graph.nodes) ops.insert((n.domain.empty() ? "" : n.domain + ".") + n.op_type);
  for (const auto& [name, t] : model.graph.initializers) dtypes.insert(std::string(dtype_name(t.dtype())));
  nlohmann::json opsets = nlohmann::json::object();
  for (const auto& o : model.opset_imports) opsets[o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
  return {{"ops", ops}, {"weight_dtypes", dtypes}, {"opsets", opsets},
          {"isa", {{"minimum", "x86-64"}, {"preferred", {"avx512-vnni", "avx-vnni", "avx2"}}}}};
}

}  // namespace

nlohmann::json build_manifest(const ManifestInputs& in, const CompressResult& result, const ModelStats& stats,
                              const ir::Model& compressed) {
  using nlohmann::json;
  const Candidate& chosen = result.candidates.at(result.chosen);
  json candidates = json::array();
  for (const auto& c : result.candidates)
    candidates.push_back({{"scheme", c.scheme}, {"pipeline", c.pipeline}, {"quality", c.quality}, {"model_bytes", c.model_bytes},
                          {"within_budget", c.within_budget}});
  json tensors = json::array();
  for (const auto& l : stats.layers) {
    const TensorScheme& s = l.scheme;
    tensors.push_back({{"weight", s.weight}, {"layer", s.layer_node}, {"op", s.layer_op}, {"scheme", s.scheme}, {"dtype", s.dtype},
                       {"bits", s.bits}, {"block", s.block}, {"axis", s.axis}, {"symmetric", s.symmetric},
                       {"parameters", s.parameters}, {"bytes", s.bytes},
                       {"scale", {{"min", s.scale_min}, {"max", s.scale_max}, {"mean", s.scale_mean}}},
                       {"output_sqnr_db", number_or_null(l.sqnr_db)}});
  }
  json pass_records = json::array();
  for (const auto& p : chosen.passes) pass_records.push_back(p.to_json(/*timing=*/false));
  json m;
  m["schema"] = "ember.manifest/1";
  m["tool"] = {{"name", "ember"}, {"version", in.tool_version}};
  m["model"] = {{"file", in.model_file}, {"sha256", in.model_sha256}, {"bytes", in.model_bytes}};
  m["source_model"] = {{"file", in.source_file}, {"sha256", in.source_sha256}, {"bytes", in.source_bytes}};
  m["options"] = in.options;
  m["pipeline"] = chosen.pipeline;
  m["scheme"] = chosen.scheme;
  m["passes"] = pass_records;
  m["calibration"] = {{"source", in.calibration_source}, {"hash", in.calibration_hash}, {"rows", in.calibration_rows}};
  m["quality"] = {{"metric", result.metric}, {"eval", in.eval_source}, {"rows", in.eval_rows}, {"fp32", result.fp32_quality},
                  {"compressed", chosen.quality}, {"budget", result.budget}, {"limit", result.quality_limit},
                  {"budget_met", result.budget_met}, {"candidates", candidates},
                  {"label_free", result.holdout_rows > 0}, {"holdout_rows", result.holdout_rows}};
  m["tensors"] = tensors;
  if (result.search.ran) m["search"] = search_section(result);
  m["op_counts"] = op_counts(compressed);
  m["energy"] = {{"model", "Horowitz ISSCC 2014, 45 nm: DRAM 20 pJ/byte, fp32 MAC 4.6 pJ, int8 MAC 0.23 pJ"},
                 {"fp32_microjoules", stats.fp32_microjoules}, {"compressed_microjoules", stats.compressed_microjoules},
                 {"fp32_weight_bytes_read", stats.fp32_work.weight_bytes}, {"compressed_weight_bytes_read", stats.compressed_work.weight_bytes},
                 {"fp32_macs", stats.fp32_work.fp32_macs + stats.fp32_work.int8_macs},
                 {"int8_macs", stats.compressed_work.int8_macs}, {"per", "one calibration batch"}};
  m["runtime"] = runtime_requirements(compressed);
  m["scheduler"] = {{"policy", "static-order"}, {"threads", in.threads > 0 ? in.threads : 0}, {"memory", "reuse-by-lifetime"}};
  formats::DeploymentConfig deployment = in.deployment;
  deployment.threads = in.threads > 0 ? in.threads : 0;
  m["deployment"] = formats::deployment_to_json(deployment);
  return m;
}

std::string build_report(const ManifestInputs& in, const CompressResult& result, const ModelStats& stats) {
  const Candidate& chosen = result.candidates.at(result.chosen);
  std::string r;
  r += fmt::format("# Ember compression report: {}\n\n", in.source_file);
  r += fmt::format("Scheme **{}** (`{}`).\n\n", chosen.scheme, chosen.pipeline);
  r += search_report_lines(result);
  r += result.budget_met ? "The accuracy budget is met.\n\n"
                         : "**The accuracy budget is NOT met**: this is the best-effort model (the candidate with the best quality).\n\n";
  r += "| | FP32 | compressed |\n|---|---|---|\n";
  r += fmt::format("| {} on {} ({} rows) | {:.5g} | {:.5g} |\n", result.metric, in.eval_source, in.eval_rows, result.fp32_quality, chosen.quality);
  r += fmt::format("| budget | | {} {:.5g} |\n", metric_lower_is_better(result.metric) ? "<=" : ">=", result.quality_limit);
  r += fmt::format("| model file | {:.2f} MB | {:.2f} MB ({:.2f}x smaller) |\n", result.fp32_bytes / 1e6, in.model_bytes / 1e6,
                   in.model_bytes ? double(result.fp32_bytes) / double(in.model_bytes) : 0.0);
  r += fmt::format("| weight bytes read per inference | {:.2f} MB | {:.2f} MB |\n", stats.fp32_work.weight_bytes / 1e6,
                   stats.compressed_work.weight_bytes / 1e6);
  r += fmt::format("| estimated energy per inference | {:.1f} uJ | {:.1f} uJ |\n\n", stats.fp32_microjoules, stats.compressed_microjoules);
  r += "## Candidates tried\n\n| scheme | quality | model bytes | within budget |\n|---|---|---|---|\n";
  for (const auto& c : result.candidates)
    r += fmt::format("| {} | {:.5g} | {} | {} |\n", c.scheme, c.quality, c.model_bytes, c.within_budget ? "yes" : "no");
  r += "\n## Layers\n\nOutput SQNR compares each layer's output with the FP32 model's on the first calibration batch.\n\n";
  r += "| layer | op | weight | scheme | parameters | bytes | output SQNR (dB) |\n|---|---|---|---|---|---|---|\n";
  size_t params = 0, bytes = 0;
  for (const auto& l : stats.layers) {
    const auto& s = l.scheme;
    params += static_cast<size_t>(s.parameters);
    bytes += s.bytes;
    const std::string sqnr = std::isnan(l.sqnr_db) ? "n/a" : std::isinf(l.sqnr_db) ? "exact" : fmt::format("{:.1f}", l.sqnr_db);
    r += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", s.layer_node, s.layer_op, s.weight, s.scheme, s.parameters, s.bytes, sqnr);
  }
  r += fmt::format("| **total** | | | | {} | {} | |\n", params, bytes);
  return r;
}

}  // namespace ember::passes
