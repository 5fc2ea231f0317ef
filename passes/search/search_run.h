// SearchRun: the state of one compress search (search_controller.cc runs it): the candidates
// built and measured, the calibrated predictions (RTN losses, GPTQ ratios, pruning losses and
// per-layer stage corrections) and the stages that progressive verification measured.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "passes/analysis/importance.h"
#include "passes/prune/head_groups.h"
#include "passes/search/action_cost.h"
#include "passes/search/allocation.h"
#include "passes/search/candidate.h"
#include "passes/search/compress.h"
#include "passes/search/gptq_factor.h"
#include "passes/search/prune_cost.h"
#include "passes/search/resource_cost.h"
#include "passes/search/target.h"

namespace ember::passes::search {

class SearchRun {
 public:
  SearchRun(const CompressOptions& options, SearchContext& ctx, CompressResult& result)
      : options_(options), ctx_(ctx), result_(result) {}

  // Energy and latency targets: the predicted costs of every action (resource_cost.h).
  void set_resource_costs(const ResourceCosts* energy, const ResourceCosts* latency) {
    energy_ = energy;
    latency_ = latency;
  }
  // The attention blocks whose heads the layers may lose (prunable_head_groups).
  void set_head_groups(const std::vector<prune::HeadGroup>* groups) { head_groups_ = groups; }
  const ResourceCosts* target_costs() const {
    const SearchTarget::Kind k = options_.recipe.target.kind;
    return k == SearchTarget::Kind::kEnergyJoules ? energy_ : k == SearchTarget::Kind::kLatencySeconds ? latency_ : nullptr;
  }

  void stage(const std::string& text) const {
    if (options_.on_stage) options_.on_stage(text);
  }

  // How much worse than the search's base (the prepared model, narrowed or not) a quality is, in
  // the metric's units (>= 0 is worse): the FP32 reference's damage less the narrowing's.
  double damage(double quality) const { return ctx_.budget.damage(quality, ctx_.reference) - ctx_.base_damage; }
  // The damage the budget leaves the per-layer search.
  double room() const { return ctx_.budget.room(ctx_.reference) - ctx_.base_damage; }

  // Builds and records a candidate (once per distinct set of actions).
  Result<const Candidate*> try_actions(const std::string& name, const std::vector<LayerAction>& actions) {
    for (size_t i = 0; i < built_.size(); ++i)
      if (built_[i].actions == actions) return &built_[i].candidate;
    stage("building and measuring candidate '" + name + "' (" + eta() + ")");
    const auto start = std::chrono::steady_clock::now();
    EMBER_ASSIGN_OR_RETURN(BuiltCandidate b, build_candidate(ctx_, name, actions));
    candidate_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (energy_) b.candidate.predicted_energy_joules = energy_->predicted(ctx_.layers, actions);
    if (latency_) b.candidate.predicted_latency_seconds = latency_->predicted(ctx_.layers, actions);
    b.candidate.within_target = within_target(b.candidate);
    built_.push_back(std::move(b));
    return &built_.back().candidate;
  }

  // "candidate 3 of about 5, about 40 s left": two probes and three stages without a target; two
  // probes, the allocation, two stages and the refit under one (a back-off adds about log2 of a
  // stage's layers).
  std::string eta() const {
    size_t plan = options_.recipe.target.kind == SearchTarget::Kind::kNone ? 5 : 6;  // a target adds the refit
    if (prune_probe_pending_) ++plan;  // the pruning probe, should an allocation prune
    const size_t planned = std::max<size_t>(built_.size() + 1, plan);
    std::string text = "candidate " + std::to_string(built_.size() + 1) + " of about " + std::to_string(planned);
    if (built_.empty()) return text;
    const double left = candidate_seconds_ / double(built_.size()) * double(planned - built_.size());
    return text + ", about " + std::to_string(int64_t(left + 0.5)) + " s left";
  }

  bool within_target(const Candidate& c) const {
    const SearchTarget& t = options_.recipe.target;
    if (t.kind == SearchTarget::Kind::kSizeBytes) return double(c.model_bytes) <= std::floor(t.value);
    if (t.kind == SearchTarget::Kind::kBitsPerWeight) return c.bits_per_weight <= t.value;
    if (t.kind == SearchTarget::Kind::kEnergyJoules) return c.predicted_energy_joules.value_or(INFINITY) <= t.value;
    if (t.kind == SearchTarget::Kind::kLatencySeconds) return c.predicted_latency_seconds.value_or(INFINITY) <= t.value;
    return true;
  }

  // Every layer that allows `kind` at `block` and `symmetric` (preferring `method`; GPTQ is not
  // allowed for embeddings, which then take RTN), else FP32; empty when no layer changes.
  std::vector<LayerAction> uniform(LayerAction::Kind kind, int64_t block, const std::string& method, bool symmetric) const {
    std::vector<LayerAction> out(ctx_.layers.size());
    bool any = false;
    for (size_t i = 0; i < ctx_.layers.size(); ++i) {
      std::optional<LayerAction> pick;
      for (const auto& a : ctx_.layers[i].allowed)
        if (a.kind == kind && a.block == block && a.symmetric == symmetric && prune_ratio(a) == 0 && (!pick || a.method == method)) pick = a;
      if (pick) out[i] = *pick, any = true;
    }
    return any ? out : std::vector<LayerAction>{};
  }

  double rtn_loss(size_t i, const LayerAction& a) const {
    const auto& allowed = ctx_.layers[i].allowed;
    // The table holds RTN predictions: any method of the same precision reads the same entry.
    for (size_t k = 0; k < allowed.size(); ++k)
      if (allowed[k].kind == a.kind && allowed[k].block == a.block && allowed[k].symmetric == a.symmetric &&
          allowed[k].static_activations == a.static_activations)
        return rtn_[i][k];
    return 0;
  }

  double scaled_loss(size_t i, const LayerAction& a) const {
    const double l = rtn_loss(i, a) * correction(i);
    const double q = a.kind == LayerAction::Kind::kInt4 && a.method == "gptq" ? l * scale_.gptq(ctx_.layers[i].weight, a.block, a.symmetric) : l;
    return q + prune_loss(i, a) * correction(i);
  }

  // Layer i's share of its FFN's predicted pruning loss under `a` (prune_cost.h), calibrated.
  double prune_loss(size_t i, const LayerAction& a) const {
    if (prune_ratio(a) <= 0 || i >= prune_.size()) return 0;
    auto it = prune_[i].find(a.ratio);
    return it == prune_[i].end() ? 0 : it->second * scale_.prune_factor;
  }

  double correction(size_t i) const { return i < correction_.size() ? correction_[i] : 1.0; }

  // The predictions the allocation uses: RTN losses, GPTQ ratios, per-layer stage corrections.
  LossTable loss_table() const {
    LossTable table = scale_losses(ctx_.layers, rtn_, scale_);
    for (size_t i = 0; i < table.size(); ++i)
      for (size_t a = 0; a < table[i].size(); ++a) table[i][a] = (table[i][a] + prune_loss(i, ctx_.layers[i].allowed[a])) * correction(i);
    return table;
  }

  const Candidate* find_built(const std::vector<LayerAction>& actions) const {
    for (const auto& b : built_)
      if (b.actions == actions) return &b.candidate;
    return nullptr;
  }

  bool allowed_all(const std::vector<LayerAction>& actions) const {
    for (size_t i = 0; i < actions.size(); ++i) {
      bool ok = false;
      for (const auto& a : ctx_.layers[i].allowed) ok = ok || a == actions[i];
      if (!ok) return false;
    }
    return true;
  }

  Status calibrate();
  Status calibrate_pruning();
  Result<std::vector<LayerAction>> allocate(int64_t capacity, double loss_limit) const;
  // allocate(), measuring the pruning probe first when the allocation prunes and it is pending.
  Result<std::vector<LayerAction>> allocate_measured(int64_t capacity, double loss_limit);
  // True (once) when `actions` prune and the pruning probe has not been measured yet.
  bool probe_pruning_for(const std::vector<LayerAction>& actions);
  Result<std::vector<LayerAction>> allocate_within_target(int64_t capacity, const std::string& name);
  void refit_corrections(const std::vector<LayerAction>& chosen);
  Status refit_and_reallocate(const std::vector<LayerAction>& chosen, int64_t capacity);
  Status search(const analysis::ImportanceReport& importance, int64_t capacity);
  // The fill step without a target (search_fill.cc, fill.h): `room` is the budget's allowed damage.
  Status fill(double room);
  const BuiltCandidate* smallest_within_budget() const;
  Result<std::optional<std::vector<LayerAction>>> fill_actions(const std::vector<LayerAction>& base, double slack,
                                                               double measured_damage, double share) const;
  static constexpr int kFillAttempts = 2;
  static constexpr double kFillShare = 0.8;  // of the slack: room for the predictions' error
  Status choose();
  void summarize();

 private:
  const CompressOptions& options_;
  SearchContext& ctx_;
  CompressResult& result_;
  LossTable rtn_;
  PruneLosses prune_;  // per layer and ratio, before CostScale::prune_factor
  CostScale scale_;
  std::deque<BuiltCandidate> built_;  // a deque: candidates handed out stay where they are
  std::vector<SearchStageRecord> stages_;
  double candidate_seconds_ = 0;
  bool prune_probe_pending_ = false;  // pruning allowed, its probe not measured yet
  bool prune_probed_ = false;         // the probe was measured: prune_factor is measured
  std::vector<double> correction_;  // per layer, from the measured stages (refit_and_reallocate)
  std::vector<std::vector<LayerAction>> stage_states_;  // the states the progressive stages measured
  const ResourceCosts* energy_ = nullptr;
  const ResourceCosts* latency_ = nullptr;
  const std::vector<prune::HeadGroup>* head_groups_ = nullptr;
  std::vector<std::vector<LayerAction>> accepted_;      // the states progressive verification kept, in order
};

}  // namespace ember::passes::search
