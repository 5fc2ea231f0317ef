// compress_search: the controller of the search (compress.h gives the steps). Each step lives
// in its own file: actions.h (what may be done to a layer), action_cost.h (predicted loss),
// target.h (what the target allows), allocation.h (one action per layer), candidate.h
// (building and measuring), progressive.h (staged verification with back-off),
// search_summary.h (the manifest's record of it all); search_run.h holds the search's state.
#include <algorithm>
#include <chrono>
#include <deque>
#include <cmath>
#include <map>

#include "formats/onnx_save.h"
#include "passes/analysis/importance.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/search/action_cost.h"
#include "passes/search/activation_cost.h"
#include "passes/search/allocation.h"
#include "passes/search/candidate.h"
#include "passes/search/layer_items.h"
#include "passes/search/measured_effect.h"
#include "passes/search/narrow_heads.h"
#include "passes/search/prune_cost.h"
#include "passes/search/resource_plan.h"
#include "passes/search/compress.h"
#include "passes/search/gptq_factor.h"
#include "passes/search/holdout.h"
#include "passes/search/progressive.h"
#include "passes/search/realize.h"
#include "passes/search/search_run.h"
#include "passes/search/search_summary.h"
#include "passes/search/target.h"

namespace ember::passes {
namespace search {

// Two measured uniform models fix the scale of the predictions: INT4 b128 with zero points and
// INT4 b32 (GPTQ where it applies). Their quantize-weights records give each layer's GPTQ/RTN
// output-error ratio at both blocks (gptq_factor.h); their measured metric change against
// the predicted loss gives metric_per_loss (least squares through the origin).
Status SearchRun::calibrate() {
  // The pruning probe waits until an allocation wants to prune (allocate_measured).
  prune_probe_pending_ = std::any_of(prune_.begin(), prune_.end(), [](const auto& r) { return !r.empty(); });
  std::vector<std::vector<LayerAction>> probes;
  std::vector<std::string> names;
  for (auto [block, symmetric] : {std::pair<int64_t, bool>{128, false}, std::pair<int64_t, bool>{32, true}}) {
    std::vector<LayerAction> p = uniform(LayerAction::Kind::kInt4, block, "gptq", symmetric);
    if (p.empty()) continue;
    probes.push_back(std::move(p));
    names.push_back("uniform-int4-b" + std::to_string(block) + (symmetric ? "" : "-asym"));
  }
  if (probes.empty()) {
    probes.push_back(uniform(LayerAction::Kind::kInt8, 0, "rtn", true));
    names.push_back("uniform-int8");
  }
  if (probes.back().empty()) return Status::Ok();
  std::vector<const Candidate*> measured;
  bool any_gptq = false;
  for (size_t k = 0; k < probes.size(); ++k) {
    EMBER_ASSIGN_OR_RETURN(const Candidate* c, try_actions(names[k], probes[k]));
    measured.push_back(c);
    for (const auto& a : probes[k]) any_gptq = any_gptq || a.method == "gptq";
  }
  if (any_gptq) {
    EMBER_ASSIGN_OR_RETURN(const auto inputs, ctx_.fp32_analyses.get<analysis::LayerInputAnalysis>(ctx_.prepared, {}));
    for (const Candidate* c : measured) gptq_error_ratios(scale_.layer_gptq, ctx_.prepared, ctx_.layers, *inputs, c->passes);
  }
  scale_.gptq_factor = 1.0;
  double num = 0, den = 0;
  for (size_t k = 0; k < probes.size(); ++k) {
    double predicted = 0;
    for (size_t i = 0; i < probes[k].size(); ++i) predicted += scaled_loss(i, probes[k][i]);
    num += std::max(0.0, damage(measured[k]->quality)) * predicted;
    den += predicted * predicted;
  }
  scale_.metric_per_loss = den > 0 ? num / den : 0;
  return Status::Ok();
}

// The pruning probe is measured when an allocation first prunes, and then the allocation is
// solved again. Before it, pruning predictions are unscaled (prune_factor 1). An allocation
// that prunes nothing at factor 1 is also the optimum at any factor >= 1: its own loss does not
// depend on the factor, and every other allocation's loss only grows with it (the measured
// factors on kjv-gpt2 are 1.8-1.9). So a search that does not prune skips the probe's
// candidate; one that does measures the same probe as before.
Result<std::vector<LayerAction>> SearchRun::allocate_measured(int64_t capacity, double loss_limit) {
  EMBER_ASSIGN_OR_RETURN(std::vector<LayerAction> actions, allocate(capacity, loss_limit));
  if (!probe_pruning_for(actions)) return actions;
  EMBER_TRY(calibrate_pruning());
  return allocate(capacity, loss_limit);
}

bool SearchRun::probe_pruning_for(const std::vector<LayerAction>& actions) {
  if (!prune_probe_pending_) return false;
  if (std::none_of(actions.begin(), actions.end(), [](const LayerAction& a) { return prune_ratio(a) > 0; })) return false;
  prune_probe_pending_ = false;
  return true;
}

// When FFNs may be pruned, one more measured point fixes the scale of the pruning predictions:
// every prunable FFN at the allowed ratio nearest 0.1, the rest FP32. Its measured damage
// against the predicted pruning loss gives prune_factor (the refit's recovery, and how far the
// second-order prediction is from the real loss, in one number).
Status SearchRun::calibrate_pruning() {
  double ratio = 0;
  for (const auto& by_ratio : prune_)
    for (const auto& [r, loss] : by_ratio)
      if (ratio == 0 || std::fabs(r - 0.1) < std::fabs(ratio - 0.1)) ratio = r;
  if (ratio == 0 || scale_.metric_per_loss <= 0) return Status::Ok();
  std::vector<LayerAction> probe(ctx_.layers.size());
  double predicted = 0;
  for (size_t i = 0; i < ctx_.layers.size(); ++i) {
    auto it = prune_[i].find(ratio);
    if (it == prune_[i].end() || !prune_partner(ctx_.layers, i)) continue;
    probe[i] = LayerAction{LayerAction::Kind::kPrune, 0, "rtn", ratio};
    predicted += it->second;
  }
  if (!(predicted > 0)) return Status::Ok();
  char name[48];
  std::snprintf(name, sizeof name, "uniform-prune-%.2f", ratio);
  EMBER_ASSIGN_OR_RETURN(const Candidate* c, try_actions(name, probe));
  prune_probed_ = true;
  // A probe that measured no damage (a coarse metric: kjv-bert's accuracy did not move) says
  // nothing about the scale: keep the unscaled prediction rather than call pruning free.
  const double measured = damage(c->quality);
  scale_.prune_factor = measured > 0 ? std::clamp(measured / (scale_.metric_per_loss * predicted), 0.01, 100.0) : 1.0;
  return Status::Ok();
}

Result<std::vector<LayerAction>> SearchRun::allocate(int64_t capacity, double loss_limit) const {
  const LossTable table = loss_table();
  const bool size = options_.recipe.target.kind == SearchTarget::Kind::kSizeBytes;
  const ResourceCosts* resource = target_costs();  // energy or latency: picojoules or nanoseconds
  // One item per layer; a prunable FFN's two layers are one item (layer_items.h).
  const std::vector<LayerItem> layer_groups = layer_items(ctx_.layers);
  // Only the options no other beats in cost and loss (an attention block's four layers have P^4 (R + 1)).
  const EfficientOptions efficient = efficient_options(item_options(layer_groups, table, [&](size_t i, size_t a) -> int64_t {
    const LayerAction& act = ctx_.layers[i].allowed[a];
    if (resource) return resource_units(options_.recipe.target.kind, resource->cost[i][a]);
    return action_bytes(ctx_.layers[i], act) + (size && act.kind != LayerAction::Kind::kKeepFloat ? kBytesPerQuantizedLayer : 0);
  }));
  const std::vector<std::vector<Option>>& items = efficient.options;
  Allocation allocation;
  if (options_.recipe.target.kind == SearchTarget::Kind::kNone) {
    EMBER_ASSIGN_OR_RETURN(allocation, allocate_smallest(items, loss_limit));
  } else {
    EMBER_ASSIGN_OR_RETURN(allocation, allocate_under_cost(items, capacity));
  }
  return item_actions(ctx_.layers, layer_groups, efficient, allocation.choice);
}

// A hard target is checked on the real serialized model: when over, the capacity shrinks by
// the excess and the allocation is rebuilt.
Result<std::vector<LayerAction>> SearchRun::allocate_within_target(int64_t capacity, const std::string& name) {
  for (int attempt = 0; attempt < 6; ++attempt) {
    EMBER_ASSIGN_OR_RETURN(std::vector<LayerAction> actions, allocate_measured(capacity, 0));
    EMBER_ASSIGN_OR_RETURN(const Candidate* c, try_actions(name, actions));
    if (c->within_target) return actions;
    if (target_costs()) {  // rounding keeps predictions within; shrink by 1% should it not
      capacity -= std::max<int64_t>(1, capacity / 100);
      continue;
    }
    const int64_t over = int64_t(c->model_bytes) - int64_t(std::floor(options_.recipe.target.value));
    stage("the allocation is " + std::to_string(over) + " bytes over the target; tightening");
    capacity -= std::max<int64_t>(over, 0) + 1024;
    if (capacity < 0) break;
  }
  return invalid_input("the target cannot be met: the allocation stays over it after tightening");
}

Status SearchRun::search(const analysis::ImportanceReport& importance, int64_t capacity) {
  EMBER_ASSIGN_OR_RETURN(rtn_, predict_rtn_losses(ctx_.prepared, ctx_.layers, importance));
  if (any_static_activations(ctx_.layers)) stage("measuring the static INT8 activations' quantization error (once)");
  EMBER_TRY(add_measured_activation_losses(rtn_, ctx_.prepared, ctx_.layers, importance, ctx_.fp32_analyses));
  prune_ = head_groups_ ? predict_prune_losses(ctx_.layers, importance, *head_groups_) : predict_prune_losses(ctx_.layers, importance);
  auto start = std::chrono::steady_clock::now();
  EMBER_TRY(calibrate());
  stages_.push_back({"calibration", int64_t(built_.size()),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
  const bool none = options_.recipe.target.kind == SearchTarget::Kind::kNone;
  const double room = this->room();
  const double loss_limit = scale_.metric_per_loss > 0 ? room / scale_.metric_per_loss : INFINITY;
  start = std::chrono::steady_clock::now();
  const size_t before = built_.size();
  std::vector<LayerAction> chosen;
  if (none) {
    EMBER_ASSIGN_OR_RETURN(chosen, allocate_measured(capacity, loss_limit));
  } else {
    EMBER_ASSIGN_OR_RETURN(chosen, allocate_within_target(capacity, "allocation"));
  }
  stages_.push_back({"allocation", int64_t(built_.size() - before),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
  const TryCandidate try_candidate = [&](const std::string& name, const std::vector<LayerAction>& actions) -> Result<bool> {
    EMBER_ASSIGN_OR_RETURN(const Candidate* c, try_actions(name, actions));
    if (name.find("backoff") == std::string::npos) stage_states_.push_back(actions);
    return c->within_budget;
  };
  auto predicted = [&](size_t i, const LayerAction& a) { return scaled_loss(i, a); };
  // Without a target, a last stage over the budget first tries the smallest allocation the
  // measured stages' corrections put within it (it can trade pruning for block size, which the
  // bisection cannot), then the bisection.
  const RepairStage repair = [&]() -> Result<std::optional<std::vector<LayerAction>>> {
    refit_corrections(chosen);
    EMBER_ASSIGN_OR_RETURN(std::vector<LayerAction> actions, allocate_measured(capacity, loss_limit));
    return std::optional<std::vector<LayerAction>>(std::move(actions));
  };
  MeasuredDamage measured;
  measured.room = room;
  measured.of = [&](const std::vector<LayerAction>& actions) -> std::optional<double> {
    const Candidate* c = find_built(actions);
    return c ? std::optional<double>(damage(c->quality)) : std::nullopt;
  };
  EMBER_ASSIGN_OR_RETURN(const ProgressiveOutcome outcome,
                         run_progressive(ctx_.layers, chosen, predicted, none, try_candidate, options_.on_stage, repair, measured));
  stages_.insert(stages_.end(), outcome.stages.begin(), outcome.stages.end());
  accepted_ = outcome.accepted;
  if (none) {
    start = std::chrono::steady_clock::now();
    const size_t built_before = built_.size();
    EMBER_TRY(fill(room));
    if (built_.size() > built_before)
      stages_.push_back({"fill", int64_t(built_.size() - built_before),
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
    return Status::Ok();
  }
  start = std::chrono::steady_clock::now();
  const size_t built_before = built_.size();
  EMBER_TRY(refit_and_reallocate(chosen, capacity));
  stages_.push_back({"refit", int64_t(built_.size() - built_before),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
  return Status::Ok();
}

// Under a hard target the stages are measurements, not steps back: each stage's measured
// damage against its predicted damage corrects the predictions of the layers it changed
//   c_stage = (d(q_k) - d(q_{k-1})) / (metric_per_loss * sum_changed (L_new - L_old)),
// clamped to [1/4, 4], and the allocation is solved once more with the corrected losses.
// (Without a target the same corrections repair a last stage over the budget: search().)
void SearchRun::refit_corrections(const std::vector<LayerAction>& chosen) {
  if (scale_.metric_per_loss <= 0) return;
  std::vector<LayerAction> previous(ctx_.layers.size());
  double previous_damage = 0;
  std::vector<double> factor(ctx_.layers.size(), 1.0);
  std::vector<std::vector<LayerAction>> states = stage_states_;
  if (states.empty() || !(states.back() == chosen)) states.push_back(chosen);
  for (const auto& state : states) {
    const Candidate* c = find_built(state);
    if (!c) continue;
    double predicted = 0;
    std::vector<size_t> changed;
    for (size_t i = 0; i < state.size(); ++i)
      if (!(state[i] == previous[i])) {
        changed.push_back(i);
        predicted += scaled_loss(i, state[i]) - scaled_loss(i, previous[i]);
      }
    const double measured = damage(c->quality) - previous_damage;
    if (predicted > 0 && !changed.empty()) {
      const double corr = std::clamp(measured / (scale_.metric_per_loss * predicted), 0.25, 4.0);
      for (size_t i : changed) factor[i] = corr;
    }
    previous = state;
    previous_damage = damage(c->quality);
  }
  correction_ = factor;
}

Status SearchRun::refit_and_reallocate(const std::vector<LayerAction>& chosen, int64_t capacity) {
  if (scale_.metric_per_loss <= 0) return Status::Ok();
  refit_corrections(chosen);
  stage("refitting the predictions to the measured stages and allocating again");
  return allocate_within_target(capacity, "allocation-refit").status();
}

// Within the target, then within the budget; then the smallest (no target) or the best quality.
Status SearchRun::choose() {
  const bool none = options_.recipe.target.kind == SearchTarget::Kind::kNone;
  const bool lower = ctx_.budget.lower_is_better;
  std::optional<size_t> best;
  for (size_t i = 0; i < built_.size(); ++i) {
    const Candidate& c = built_[i].candidate;
    if (!c.within_target || !allowed_all(built_[i].actions)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const Candidate& b = built_[*best].candidate;
    const bool better_quality = lower ? c.quality < b.quality : c.quality > b.quality;
    if (c.within_budget != b.within_budget) {
      if (c.within_budget) best = i;
    } else if (none && c.within_budget ? c.model_bytes < b.model_bytes : better_quality) {
      best = i;
    }
  }
  if (!best) return internal_error("search: no candidate meets the target");
  for (auto& b : built_) result_.candidates.push_back(b.candidate);
  mark_pareto(result_.candidates, lower);
  result_.chosen = *best;
  result_.budget_met = built_[*best].candidate.within_budget;
  result_.model = std::move(built_[*best].model);
  result_.remarks = std::move(built_[*best].remarks);
  return Status::Ok();
}

void SearchRun::summarize() {
  SearchSummary& s = result_.search;
  s.ran = true;
  s.target_kind = target_kind_name(options_.recipe.target.kind);
  s.target_value = options_.recipe.target.value;
  const Candidate& c = result_.candidates[result_.chosen];
  s.target_achieved = options_.recipe.target.kind == SearchTarget::Kind::kBitsPerWeight ? c.bits_per_weight : double(c.model_bytes);
  if (options_.recipe.target.kind == SearchTarget::Kind::kEnergyJoules) s.target_achieved = c.predicted_energy_joules.value_or(NAN);
  if (options_.recipe.target.kind == SearchTarget::Kind::kLatencySeconds) s.target_achieved = c.predicted_latency_seconds.value_or(NAN);
  s.predicted_energy_joules = c.predicted_energy_joules;
  s.predicted_latency_seconds = c.predicted_latency_seconds;
  const std::vector<LayerAction> fp32(ctx_.layers.size());
  if (energy_) s.fp32_energy_joules = energy_->predicted(ctx_.layers, fp32);
  if (latency_) s.fp32_latency_seconds = latency_->predicted(ctx_.layers, fp32);
  s.gptq_factor = scale_.gptq_factor;
  s.metric_per_loss = scale_.metric_per_loss;
  s.prune_factor = prune_probed_ ? scale_.prune_factor : 0;  // 0: no probe (nothing prunable, or no allocation pruned)
  const std::vector<LayerAction>& actions = built_[result_.chosen].actions;
  const LossTable table = loss_table();
  std::vector<MeasuredState> measured;
  std::vector<std::vector<LayerAction>> chain = accepted_;
  if (chain.empty() || !(chain.back() == actions)) chain.push_back(actions);  // a refitted allocation: measured too
  for (const auto& state : chain)
    if (const Candidate* c = find_built(state)) measured.push_back({state, damage(c->quality)});
  const auto effects = measured_effects(measured, actions, [&](size_t i, const LayerAction& a) { return scaled_loss(i, a); },
                                        scale_.metric_per_loss);
  for (size_t i = 0; i < ctx_.layers.size(); ++i) {
    s.layers.push_back(layer_record(ctx_.layers[i], actions[i], table[i]));
    s.layers.back().measured_loss = effects[i];
    if (energy_) s.layers.back().predicted_energy_joules = energy_->action_cost(ctx_.layers, i, actions[i]);
    if (latency_) s.layers.back().predicted_latency_seconds = latency_->action_cost(ctx_.layers, i, actions[i]);
  }
  s.stages = stages_;
}

namespace {

std::vector<std::string> attention_weights(const analysis::ImportanceReport& importance) {
  std::vector<std::string> out;
  for (const auto& h : importance.heads)
    for (const auto& slice : h.block.slices) out.push_back(slice.weight);
  return out;
}

}  // namespace
}  // namespace search

Result<CompressResult> compress_search(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                       const CompressOptions& options) {
  using namespace search;
  const SearchRecipe& recipe = options.recipe;
  EMBER_TRY(check_target(recipe.target));
  EMBER_TRY(check_head_widths(recipe));
  AnalysisManager fp32_analyses(&calib);
  fp32_analyses.set_progress(options.analysis_progress);
  ir::Model prepared = fp32;
  Remarks prep_remarks;
  EMBER_ASSIGN_OR_RETURN(PassManager prep, PassManager::from_entries(preparation_pipeline()));
  PassContext prep_ctx(fp32_analyses, prep_remarks, nullptr);
  EMBER_TRY(prep.run(prepared, prep_ctx).with_context("preparing the model"));
  EMBER_ASSIGN_OR_RETURN(const std::string prepared_bytes, formats::serialize_onnx(prepared));
  // The target is checked against the cheapest actions before any calibration runs.
  std::vector<prune::HeadGroup> head_groups = prunable_head_groups(prepared, recipe, fp32_analyses);
  EMBER_ASSIGN_OR_RETURN(std::vector<SearchLayer> unstaged, search_layers(prepared, recipe, {}, head_groups));
  if (unstaged.empty()) return invalid_input("the model has no weight the search can compress (no MatMul, Gemm, Conv or Gather weight of 1024 elements or more)");
  EMBER_ASSIGN_OR_RETURN(int64_t capacity, layer_capacity(recipe.target, unstaged, int64_t(prepared_bytes.size())));
  const bool resource = recipe.target.kind == SearchTarget::Kind::kEnergyJoules || recipe.target.kind == SearchTarget::Kind::kLatencySeconds;
  std::unique_ptr<ResourcePlan> plan;
  if (resource) {
    EMBER_ASSIGN_OR_RETURN(plan, plan_resources(prepared, prepared_bytes, calib, unstaged, options));
    const ResourceCosts& costs = recipe.target.kind == SearchTarget::Kind::kEnergyJoules ? *plan->energy : *plan->latency;
    EMBER_ASSIGN_OR_RETURN(capacity, resource_capacity(recipe.target, unstaged, costs));
  }

  CompressResult result;
  EMBER_ASSIGN_OR_RETURN(Judge judge, judge_fp32(fp32, calib, options, result));
  std::vector<PassRecord> base_records = prep.records();
  SearchBase base;
  if (!head_groups.empty()) {
    EMBER_ASSIGN_OR_RETURN(base, narrowed_base(prepared, fp32_analyses, head_groups, judge, options, result.search));
    if (base.narrowed) {
      base_records.insert(base_records.end(), base.records.begin(), base.records.end());
      head_groups = prunable_head_groups(prepared, recipe, fp32_analyses);
      EMBER_ASSIGN_OR_RETURN(unstaged, search_layers(prepared, recipe, {}, head_groups));
      int64_t narrowed_bytes = 0;  // only a size target reads the model's bytes
      if (recipe.target.kind == SearchTarget::Kind::kSizeBytes) {
        EMBER_ASSIGN_OR_RETURN(const std::string bytes, formats::serialize_onnx(prepared));
        narrowed_bytes = int64_t(bytes.size());
      }
      EMBER_ASSIGN_OR_RETURN(capacity, layer_capacity(recipe.target, unstaged, narrowed_bytes));
    }
  }

  if (options.on_stage) options.on_stage("measuring gradient importance (once)");
  analysis::ImportanceOptions io;
  io.threads = options.threads;
  // A pruned candidate's prune-structured scores neurons by importance on the same first rows
  // (its importance-rows option, as `ember opt` replays it); with pruning allowed the scores are
  // computed once in the manager the candidates copy, where their prune-structured finds them.
  const bool prunes = std::any_of(unstaged.begin(), unstaged.end(), [](const SearchLayer& l) {
    return std::any_of(l.allowed.begin(), l.allowed.end(), [](const LayerAction& a) { return prune_ratio(a) > 0; });
  });
  EMBER_ASSIGN_OR_RETURN(const std::optional<calibration::CalibrationSet> first_rows,
                         importance_rows(calib, prunes ? 0 : recipe.importance_rows));
  if (prunes) io.rows = recipe.importance_rows;
  const calibration::CalibrationSet* scored = options.importance_calib ? options.importance_calib : first_rows ? &*first_rows : nullptr;
  AnalysisManager importance_analyses(scored ? scored : &calib);
  importance_analyses.set_progress(options.analysis_progress);
  AnalysisManager& scorer = scored ? importance_analyses : fp32_analyses;
  auto importance = scorer.get<analysis::ImportanceAnalysis>(prepared, io);
  analysis::ImportanceReport no_importance;  // a model without backward rules: weight errors alone rank the layers
  const analysis::ImportanceReport& report = importance.ok() ? **importance : no_importance;
  if (!importance.ok()) result.remarks.note("search", "importance unavailable, predictions use weight errors only: " + importance.status().message());
  EMBER_ASSIGN_OR_RETURN(const std::vector<SearchLayer> layers, search_layers(prepared, recipe, attention_weights(report), head_groups));

  SearchContext ctx{prepared, base_records, fp32_analyses, *judge.evaluator, judge.budget, judge.reference, layers, prunes ? recipe.importance_rows : 0};
  ctx.base_pipeline = base.pipeline;
  ctx.base_damage = base.damage;
  SearchRun run(options, ctx, result);
  run.set_head_groups(&head_groups);
  if (plan) {
    for (size_t i = 0; i < layers.size(); ++i)  // the costs were measured on the same layers, before staging
      if (layers.size() != unstaged.size() || layers[i].weight != unstaged[i].weight || layers[i].allowed != unstaged[i].allowed)
        return internal_error("search: the layers changed between the target check and the search");
    run.set_resource_costs(&*plan->energy, plan->latency ? &*plan->latency : nullptr);
  }
  EMBER_TRY(run.search(report, capacity));
  EMBER_TRY(run.choose());
  run.summarize();
  if (!result.search.narrowing.empty())
    result.search.stages.insert(result.search.stages.begin(), {"narrowing", int64_t(result.search.narrowing.size()), base.seconds});
  if (plan && plan->latency) EMBER_TRY(record_latency(*plan, prepared, options, result));
  for (const char* name : {"layer-inputs", "importance"})
    result.analyses_computed[name] = fp32_analyses.computations(name) + (scored ? importance_analyses.computations(name) : 0);
  return result;
}

}  // namespace ember::passes
