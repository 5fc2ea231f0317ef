// analyze-importance: gradient-based importance (importance.h) of every weight, output channel,
// FFN neuron, attention head and candidate precision, over the calibration set.
// Before/after: the same graph; the pass changes nothing and preserves every analysis.
// The scores are computed once by the AnalysisManager (ImportanceAnalysis) and stay cached
// for the passes after it, which read them with ctx.analyses.get<ImportanceAnalysis>(model,
// options) and the same options. Math: see importance.h (Taylor |sum g w|, Fisher
// F = E[g^2], predicted loss increase g_mean . dw + 1/2 sum F dw^2).
// Result: ImportanceResult, the report of schemas/importance.schema.json.
#pragma once
#include "passes/analysis/importance.h"
#include "passes/pass.h"

namespace ember::passes {

struct ImportanceResult final : PassResult {
  std::shared_ptr<const analysis::ImportanceReport> report;
  nlohmann::json to_json() const override;
};

// The importance options of a pass's option values (shared by every pass that reads the scores).
Result<analysis::ImportanceOptions> importance_options(const PassOptions& options);

class AnalyzeImportance final : public Pass {
 public:
  explicit AnalyzeImportance(const PassOptions& options) : options_(options) {}
  static std::vector<OptionSpec> option_specs();
  std::string_view name() const override { return "analyze-importance"; }
  Status run(ir::Model& model, PassContext& ctx) override;
  PreservedAnalyses preserved() const override { return PreservedAnalyses::all(); }
  std::shared_ptr<const PassResult> result() const override { return result_; }

 private:
  PassOptions options_;
  std::shared_ptr<ImportanceResult> result_;
};

}  // namespace ember::passes
