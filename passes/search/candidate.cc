#include "passes/search/candidate.h"

#include <chrono>

#include "formats/onnx_save.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/search/realize.h"

namespace ember::passes::search {

double bits_per_weight(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& actions) {
  double bits = 0, params = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    bits += 8.0 * double(action_bytes(layers[i], actions[i]));
    params += double(layers[i].params);
  }
  return params > 0 ? bits / params : 0;
}

Result<BuiltCandidate> build_candidate(SearchContext& ctx, const std::string& name, const std::vector<LayerAction>& actions) {
  EMBER_ASSIGN_OR_RETURN(const std::vector<PipelineEntry> pipeline, realize_actions(ctx.layers, actions, ctx.importance_rows));
  EMBER_ASSIGN_OR_RETURN(PassManager manager, PassManager::from_entries(pipeline));
  // The first quantize-weights pass reads layer inputs of the prepared model: compute them in
  // the shared manager, once for every candidate (later passes keep them: realize.h).
  for (const auto& a : actions)
    if (a.method == "gptq" && a.kind != LayerAction::Kind::kKeepFloat) {
      EMBER_TRY(ctx.fp32_analyses.get<analysis::LayerInputAnalysis>(ctx.prepared, {}).status());
      break;
    }
  BuiltCandidate out;
  out.model = ctx.prepared;
  out.actions = actions;
  AnalysisManager analyses = ctx.fp32_analyses;
  PassContext pass_ctx(analyses, out.remarks, &ctx.budget);
  EMBER_TRY(manager.run(out.model, pass_ctx).with_context("candidate " + name));
  const auto measure_start = std::chrono::steady_clock::now();
  EMBER_ASSIGN_OR_RETURN(const calibration::EvalResult quality, ctx.evaluator.measure(out.model));
  out.candidate.measure_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - measure_start).count();
  EMBER_ASSIGN_OR_RETURN(const std::string bytes, formats::serialize_onnx(out.model));
  std::vector<PipelineEntry> full = preparation_pipeline();
  full.insert(full.end(), pipeline.begin(), pipeline.end());
  Candidate& c = out.candidate;
  c.scheme = name;
  c.pipeline = pipeline_to_string(full);
  c.quality = quality.value;
  c.model_bytes = bytes.size();
  c.within_budget = ctx.budget.within(quality.value, ctx.reference);
  c.passes = ctx.prep_records;
  c.passes.insert(c.passes.end(), manager.records().begin(), manager.records().end());
  c.bits_per_weight = bits_per_weight(ctx.layers, actions);
  return out;
}

}  // namespace ember::passes::search
