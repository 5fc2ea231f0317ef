// The uniform ladder of `ember compress --scheme`: fixed recipes tried in order, the first
// within budget kept (compress.h). The search (search_controller.cc) is the default.
#include "passes/search/compress.h"

#include "formats/onnx_save.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/quantize/weight_quant_options.h"
#include "passes/search/evaluator.h"
#include "passes/search/realize.h"

namespace ember::passes {
namespace {

struct Recipe {
  std::string name;
  std::vector<PipelineEntry> pipeline;
};

const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> all = {
      {"int4-gptq", {pipeline_entry("quantize-weights", {{"bits", "4"}, {"block", "32"}, {"method", "gptq"}}), pipeline_entry("dce", {})}},
      {"int4-mixed",
       {pipeline_entry("quantize-weights", {{"bits", "8"}, {"ops", "Gather"}}),
        pipeline_entry("quantize-weights", {{"bits", "4"}, {"block", "32"}, {"method", "gptq"}, {"ops", "MatMul+Gemm+Conv"}}),
        pipeline_entry("dce", {})}},
      {"w8a8",
       {pipeline_entry("quantize-weights", {{"bits", "8"}}), pipeline_entry("quantize-activations", {{"mode", "static"}, {"method", "percentile"}}),
        pipeline_entry("dce", {})}},
      {"w8", {pipeline_entry("quantize-weights", {{"bits", "8"}}), pipeline_entry("dce", {})}},
  };
  return all;
}

const Recipe* find_recipe(const std::string& scheme) {
  for (const auto& r : recipes())
    if (r.name == scheme) return &r;
  return nullptr;
}

// A candidate's first pass sees the prepared FP32 model: the analyses it reads are the FP32 model's, so
// they are computed in the shared manager (once for all candidates), not in the candidate's copy.
Status precompute_fp32_analyses(const ir::Model& fp32, const std::vector<PipelineEntry>& pipeline,
                                AnalysisManager& fp32_analyses) {
  if (pipeline.empty() || pipeline.front().name != "quantize-weights") return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const quant::WeightQuantOptions o, quant::parse_weight_quant_options(pipeline.front().options));
  if (o.method == quant::Method::kRtn) return Status::Ok();
  analysis::LayerInputAnalysis::Options request;
  request.max_rows = o.calib_rows;
  request.batch_rows = o.batch;
  return fp32_analyses.get<analysis::LayerInputAnalysis>(fp32, request).status();
}

}  // namespace

const std::vector<std::string>& compression_ladder() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& r : recipes()) n.push_back(r.name);
    return n;
  }();
  return names;
}

Result<std::vector<PipelineEntry>> recipe_pipeline(const std::string& scheme) {
  if (const Recipe* r = find_recipe(scheme)) {  // the preparation, then the recipe: what `ember opt` replays
    std::vector<PipelineEntry> pipeline = search::preparation_pipeline();
    pipeline.insert(pipeline.end(), r->pipeline.begin(), r->pipeline.end());
    return pipeline;
  }
  std::string names;
  for (const auto& n : compression_ladder()) names += (names.empty() ? "" : ", ") + n;
  return invalid_input("unknown scheme '" + scheme + "' (schemes: " + names + ")");
}

Result<CompressResult> compress_uniform(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                        const CompressOptions& options) {
  CompressResult result;
  EMBER_ASSIGN_OR_RETURN(Judge judge, judge_fp32(fp32, calib, options, result));
  QualityEvaluator& evaluator = *judge.evaluator;
  const Budget& budget = judge.budget;
  const bool lm = budget.lower_is_better;

  // Analyses of the prepared FP32 model (layer inputs, Hessians) are computed once, and every
  // candidate starts from a copy of this manager.
  AnalysisManager fp32_analyses(&calib);
  fp32_analyses.set_progress(options.analysis_progress);
  ir::Model prepared = fp32;
  Remarks prep_remarks;
  EMBER_ASSIGN_OR_RETURN(PassManager prep, PassManager::from_entries(search::preparation_pipeline()));
  PassContext prep_ctx(fp32_analyses, prep_remarks, &budget);
  EMBER_TRY(prep.run(prepared, prep_ctx).with_context("preparing the model"));

  const std::vector<std::string> schemes = options.schemes.empty() ? compression_ladder() : options.schemes;
  std::optional<size_t> best;  // best quality so far, for the best-effort answer
  for (const auto& scheme : schemes) {
    EMBER_ASSIGN_OR_RETURN(const std::vector<PipelineEntry> full_pipeline, recipe_pipeline(scheme));
    const std::vector<PipelineEntry>& pipeline = find_recipe(scheme)->pipeline;
    if (options.on_stage) options.on_stage("trying " + scheme);
    EMBER_ASSIGN_OR_RETURN(PassManager manager, PassManager::from_entries(pipeline));
    EMBER_TRY(precompute_fp32_analyses(prepared, pipeline, fp32_analyses));
    ir::Model model = prepared;
    Remarks remarks;
    AnalysisManager analyses = fp32_analyses;
    PassContext ctx(analyses, remarks, &budget);
    EMBER_TRY(manager.run(model, ctx).with_context("scheme " + scheme));
    EMBER_ASSIGN_OR_RETURN(calibration::EvalResult quality, evaluator.measure(model));
    EMBER_ASSIGN_OR_RETURN(std::string bytes, formats::serialize_onnx(model));
    std::vector<PassRecord> records = prep.records();
    records.insert(records.end(), manager.records().begin(), manager.records().end());
    Candidate c{scheme, pipeline_to_string(full_pipeline), quality.value, bytes.size(),
                budget.within(quality.value, judge.reference), std::move(records)};
    result.candidates.push_back(c);
    const size_t index = result.candidates.size() - 1;
    const bool better = !best || (lm ? c.quality < result.candidates[*best].quality : c.quality > result.candidates[*best].quality);
    if (better || c.within_budget) {
      best = index;
      result.model = std::move(model);
      result.remarks = std::move(remarks);
    }
    if (c.within_budget) {
      result.budget_met = true;
      break;
    }
  }
  if (!best) return invalid_input("no compression scheme was tried");
  for (const char* name : {"layer-inputs", "importance"})
    result.analyses_computed[name] = fp32_analyses.computations(name);
  result.chosen = *best;
  return result;
}

}  // namespace ember::passes
