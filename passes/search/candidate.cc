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

namespace {

bool any_gptq(const std::vector<LayerAction>& actions) {
  for (const auto& a : actions)
    if (a.method == "gptq" && a.kind != LayerAction::Kind::kKeepFloat) return true;
  return false;
}

// Runs `entries` on `model` with `analyses`; appends the pass records.
Status run_entries(const std::vector<PipelineEntry>& entries, ir::Model& model, AnalysisManager& analyses, Remarks& remarks,
                   const Budget& budget, std::vector<PassRecord>& records, const std::string& name) {
  EMBER_ASSIGN_OR_RETURN(PassManager manager, PassManager::from_entries(entries));
  PassContext pass_ctx(analyses, remarks, &budget);
  EMBER_TRY(manager.run(model, pass_ctx).with_context("candidate " + name));
  records.insert(records.end(), manager.records().begin(), manager.records().end());
  return Status::Ok();
}

}  // namespace

Result<BuiltCandidate> build_candidate(SearchContext& ctx, const std::string& name, const std::vector<LayerAction>& actions) {
  EMBER_ASSIGN_OR_RETURN(const std::vector<PipelineEntry> pipeline, realize_actions(ctx.layers, actions, ctx.importance_rows));
  // The first quantize-weights pass reads layer inputs of the prepared model: compute them in
  // the shared manager, once for every candidate (later passes keep them: realize.h).
  const bool gptq = any_gptq(actions);
  if (gptq) EMBER_TRY(ctx.fp32_analyses.get<analysis::LayerInputAnalysis>(ctx.prepared, {}).status());
  BuiltCandidate out;
  out.actions = actions;
  std::vector<PassRecord> records;
  AnalysisManager analyses = ctx.fp32_analyses;
  std::vector<PipelineEntry> rest = pipeline;
  if (!pipeline.empty() && pipeline.front().name == "prune-structured") {
    // Pruned alike before: continue from that model and its statistics (PrunedModel).
    const std::string entry = pipeline_to_string({pipeline.front()});
    rest.erase(rest.begin());
    if (const PrunedModel* done = ctx.pruned->find(entry)) {
      out.model = done->model;
      analyses = done->analyses;
      out.remarks = done->remarks;
      records = done->records;
      for (auto& r : records) r.seconds = 0;  // not run again for this candidate
    } else {
      out.model = ctx.prepared;
      EMBER_TRY(run_entries({pipeline.front()}, out.model, analyses, out.remarks, ctx.budget, records, name));
      // The statistics quantize-weights would measure on the pruned model, measured here once.
      if (gptq) EMBER_TRY(analyses.get<analysis::LayerInputAnalysis>(out.model, {}).status());
      ctx.pruned->keep({entry, out.model, analyses, records, out.remarks});
    }
  } else {
    out.model = ctx.prepared;
  }
  EMBER_TRY(run_entries(rest, out.model, analyses, out.remarks, ctx.budget, records, name));
  const auto measure_start = std::chrono::steady_clock::now();
  EMBER_ASSIGN_OR_RETURN(const calibration::EvalResult quality, ctx.evaluator.measure(out.model));
  out.candidate.measure_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - measure_start).count();
  EMBER_ASSIGN_OR_RETURN(const std::string bytes, formats::serialize_onnx(out.model));
  std::vector<PipelineEntry> full = ctx.base_pipeline;
  full.insert(full.end(), pipeline.begin(), pipeline.end());
  Candidate& c = out.candidate;
  c.scheme = name;
  c.pipeline = pipeline_to_string(full);
  c.quality = quality.value;
  c.model_bytes = bytes.size();
  c.within_budget = ctx.budget.within(quality.value, ctx.reference);
  c.passes = ctx.prep_records;
  c.passes.insert(c.passes.end(), records.begin(), records.end());
  c.bits_per_weight = bits_per_weight(ctx.layers, actions);
  return out;
}

}  // namespace ember::passes::search
