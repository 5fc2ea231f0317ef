#include "passes/search/narrow_heads.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "passes/analysis/layer_inputs.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

namespace {

// Rows (tokens) of each projection's input in the narrowing's statistics: the pass's default,
// written out so that the statistics computed once for every trial are the ones it reads.
constexpr int64_t kNarrowRefitRows = 8192;

std::string ratio_text(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", ratio);
  return text;
}

}  // namespace

PipelineEntry narrowing_entry(double ratio) {
  return pipeline_entry("prune-structured", {{"ffn", "0"}, {"head-width", ratio_text(ratio)}, {"refit-rows", std::to_string(kNarrowRefitRows)}});
}

Result<NarrowedModel> narrow_heads(const ir::Model& prepared, const AnalysisManager& analyses, const NarrowingJudge& judge,
                                   const std::vector<double>& ratios, const std::function<void(const std::string&)>& on_stage) {
  NarrowedModel kept;
  // The projections' input statistics, computed once on `prepared` for every trial.
  AnalysisManager shared = analyses;
  analysis::LayerInputAnalysis::Options io;
  io.max_rows = kNarrowRefitRows;
  EMBER_TRY(shared.get<analysis::LayerInputAnalysis>(prepared, io).status());
  const double room = judge.budget.room(judge.reference);
  const auto start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < ratios.size(); ++k) {
    const double ratio = ratios[k];
    if (on_stage) {
      std::string eta = "ratio " + std::to_string(k + 1) + " of at most " + std::to_string(ratios.size());
      const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (k > 0) eta += ", about " + std::to_string(int64_t(spent / double(k) * double(ratios.size() - k) + 0.5)) + " s left";
      on_stage("narrowing every attention head by " + std::to_string(int(ratio * 100 + 0.5)) + "% and measuring it (" + eta + ")");
    }
    const PipelineEntry entry = narrowing_entry(ratio);
    EMBER_ASSIGN_OR_RETURN(PassManager manager, PassManager::from_entries({entry}));
    NarrowedModel trial;
    trial.model = prepared;
    trial.analyses = shared;  // shares what was computed on `prepared`; the pass drops it after
    Remarks remarks;
    PassContext ctx(trial.analyses, remarks, &judge.budget);
    // The narrowing is an option, not the search: a model whose heads the pass cannot narrow
    // is searched as it is, and the reason goes to the report.
    const Status ran = manager.run(trial.model, ctx);
    if (!ran.ok()) {
      kept.skipped = "narrowing by " + ratio_text(ratio) + " failed: " + ran.message();
      break;
    }
    const PassRecord& record = manager.records().front();
    if (record.weight_bytes_after >= record.weight_bytes_before) break;  // no head could be narrowed
    EMBER_ASSIGN_OR_RETURN(const calibration::EvalResult quality, judge.evaluator.measure(trial.model));
    const double damage = judge.budget.damage(quality.value, judge.reference);
    const bool within = damage <= kNarrowShare * room;
    kept.trials.push_back({ratio, quality.value, within});
    if (!within) break;
    trial.ratio = ratio;
    trial.damage = damage;
    trial.entry = entry;
    trial.records = manager.records();
    trial.trials = std::move(kept.trials);
    kept = std::move(trial);
  }
  return kept;
}

Status check_head_widths(const SearchRecipe& recipe) {
  if (!recipe.head_widths) return Status::Ok();
  for (double r : *recipe.head_widths)
    if (!(r > 0 && r <= 0.95)) return invalid_input("a head width (the share of every head's channels removed) must lie in (0, 0.95], got " + std::to_string(r));
  const SearchTarget::Kind k = recipe.target.kind;
  if (!recipe.head_widths->empty() && (k == SearchTarget::Kind::kEnergyJoules || k == SearchTarget::Kind::kLatencySeconds))
    return invalid_input("head widths are not offered under an energy or latency target (their costs are measured on the layers as they are); drop one");
  return Status::Ok();
}

Result<SearchBase> narrowed_base(ir::Model& prepared, AnalysisManager& analyses, const std::vector<prune::HeadGroup>& groups,
                                 const Judge& judge, const CompressOptions& options, SearchSummary& summary) {
  SearchBase base;
  const std::vector<double> ratios = head_widths(options.recipe);
  const bool narrowable = std::any_of(groups.begin(), groups.end(), [](const prune::HeadGroup& g) { return g.width_refusal.empty(); });
  if (ratios.empty() || !narrowable) return base;
  const auto start = std::chrono::steady_clock::now();
  EMBER_ASSIGN_OR_RETURN(NarrowedModel narrowed,
                         narrow_heads(prepared, analyses, {*judge.evaluator, judge.budget, judge.reference}, ratios, options.on_stage));
  base.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.narrowing = narrowed.trials;
  summary.narrowing_skipped = narrowed.skipped;
  if (narrowed.ratio <= 0) return base;
  summary.head_width = narrowed.ratio;
  base.pipeline.push_back(*narrowed.entry);
  base.narrowed = true;
  base.damage = narrowed.damage;
  for (PassRecord r : narrowed.records) {
    r.seconds = 0;  // timed as the narrowing stage, not again per candidate
    base.records.push_back(std::move(r));
  }
  prepared = std::move(narrowed.model);
  analyses = std::move(narrowed.analyses);
  return base;
}

}  // namespace ember::passes::search
