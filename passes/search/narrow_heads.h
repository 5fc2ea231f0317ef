// The head-narrowing stage of a search: before the per-layer search, every attention head of the
// prepared FP32 model may keep fewer channels (prune-structured{head-width=R}, head_width.h), and
// the search then runs on the narrowed model.
//
// Narrowing is one global choice, not a per-layer action: each ratio R of the recipe's
// head_widths (ascending) is applied to the whole model and measured on the real metric, and the
// largest R whose measured damage stays within kNarrowShare of the budget's room is kept, so the
// per-layer search has the rest. The ratios stop at the first one over the share (damage grows
// with R). Measured, not predicted: kjv-bert's label-free KL of head-width 0.25 / 0.5 / 0.75 /
// 0.875 is 0.00002 / 0.0001 / 0.002 / 0.028 nats, kjv-gpt2's bits per byte +0.0004 / +0.0069 at
// 0.25 / 0.5; a second-order prediction of these would have to be calibrated on such points anyway.
//
//   before: Q,K,V [D, H d], O [H d, D], head constants d
//   after:  Q,K,V [D, H d'], O [H d', D], d' = d - round(R d); q^T k and O z in the new bases
//
// The narrowing pass's entry and record become part of every candidate's pipeline (after the
// preparation passes), so `ember opt` replays the chosen model through it.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/model.h"
#include "passes/analysis_manager.h"
#include "passes/budget.h"
#include "passes/pass_manager.h"
#include "passes/prune/head_groups.h"
#include "passes/search/compress.h"
#include "passes/search/evaluator.h"
#include "passes/search/realize.h"

namespace ember::passes::search {

// The share of the budget's room the narrowing may take; the per-layer search gets the rest.
inline constexpr double kNarrowShare = 0.25;

struct NarrowedModel {
  double ratio = 0;                    // 0: not narrowed (no ratio within the share)
  double damage = 0;                   // the kept ratio's measured damage, in the metric's units
  ir::Model model;                     // the narrowed model (ratio > 0)
  AnalysisManager analyses;            // its analyses (the narrowing pass dropped the stale ones)
  std::optional<PipelineEntry> entry;  // prune-structured{ffn=0,head-width=R}
  std::vector<PassRecord> records;     // the narrowing pass's record
  std::vector<NarrowingTrial> trials;  // every ratio measured, in order
  std::string skipped;                 // why a ratio could not be tried (the pass failed), else empty
};

struct NarrowingJudge {
  QualityEvaluator& evaluator;
  const Budget& budget;
  double reference = 0;  // the FP32 model's quality
};

// What the per-layer search starts from: the preparation passes, then the narrowing when one was
// kept (its entry and record join every candidate's pipeline).
struct SearchBase {
  std::vector<PipelineEntry> pipeline = preparation_pipeline();
  bool narrowed = false;            // a narrowing was kept: the caller's `prepared` is the narrowed model
  double damage = 0;                // its measured damage (0: none)
  std::vector<PassRecord> records;  // its pass records, timed as the narrowing stage (seconds 0)
  double seconds = 0;               // the narrowing stage's wall time
};

// Exit 2 before any work: a ratio outside (0, 0.95], or head widths under an energy or latency
// target (their costs are measured on the layers before any narrowing).
Status check_head_widths(const SearchRecipe& recipe);

// The narrowing stage when the recipe offers head widths (actions.h head_widths): a kept ratio
// replaces `prepared` and `analyses` by the narrowed model's; `summary` records the trials.
// Nothing is tried when no block of `groups` (prunable_head_groups) can be narrowed.
Result<SearchBase> narrowed_base(ir::Model& prepared, AnalysisManager& analyses, const std::vector<prune::HeadGroup>& groups,
                                 const Judge& judge, const CompressOptions& options, SearchSummary& summary);

// The narrowing pass's pipeline entry for ratio R.
PipelineEntry narrowing_entry(double ratio);

// Tries `ratios` (ascending) on `prepared` with copies of `analyses`; returns the largest ratio
// within kNarrowShare of the room (ratio 0 when none is, or when no head can be narrowed).
Result<NarrowedModel> narrow_heads(const ir::Model& prepared, const AnalysisManager& analyses, const NarrowingJudge& judge,
                                   const std::vector<double>& ratios, const std::function<void(const std::string&)>& on_stage);

}  // namespace ember::passes::search
