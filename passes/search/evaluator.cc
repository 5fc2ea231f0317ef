#include "passes/search/evaluator.h"

#include "calibration/fidelity.h"
#include "formats/npz.h"
#include "passes/search/fidelity_evaluator.h"
#include "runtime/interpreter.h"

namespace ember::passes {
namespace {

const char* task_metric(calibration::EvalTask task) {
  return task == calibration::EvalTask::kLanguageModel ? "bits_per_byte" : "accuracy";
}

// Bits per byte (lm) or accuracy (classify) on a labelled eval set, with the task's protocol.
class TaskEvaluator final : public QualityEvaluator {
 public:
  explicit TaskEvaluator(EvaluatorOptions options) : options_(std::move(options)) {}

  Result<calibration::EvalResult> measure(const ir::Model& model) override {
    runtime::InterpreterOptions io;
    io.threads = options_.threads;
    io.fuse_float = true;
    EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model, io));
    calibration::EvalOptions eo;
    eo.task = options_.task;
    eo.limit = options_.eval_limit;
    return calibration::evaluate(*interp, options_.eval_path, eo);
  }

  Result<Budget> budget(std::optional<double> allowed) const override {
    return make_metric_budget(task_metric(options_.task), allowed);
  }

 private:
  EvaluatorOptions options_;
};

// The classify protocol scores argmax against 'labels': an eval set without them cannot say
// anything, so it is refused before any work, pointing at the label-free budget.
Status check_eval_labels(const EvaluatorOptions& options) {
  if (options.task != calibration::EvalTask::kClassify) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(auto arrays, formats::read_npz(options.eval_path));
  if (arrays.count("labels")) return Status::Ok();
  return invalid_input(options.eval_path + " has no 'labels' array, which the classify task's accuracy needs; without labels, "
                       "leave out --eval and --task to use the label-free fidelity budget (or --budget-metric kl)");
}

}  // namespace

bool uses_fidelity(const SearchBudget& budget, const std::string& eval_path) {
  return calibration::is_fidelity_metric(budget.metric) || (budget.metric == "auto" && eval_path.empty());
}

Status check_budget_request(const EvaluatorOptions& options) {
  const std::string& metric = options.budget.metric;
  if (metric != "auto" && !is_budget_metric(metric))
    return invalid_input("unknown budget metric '" + metric + "' (auto, bits_per_byte, accuracy, kl, top1, sqnr, cosine, expected-accuracy)");
  if (metric == "bits_per_byte" || metric == "accuracy") {
    if (options.eval_path.empty())
      return invalid_input("the " + metric + " budget needs a labelled eval set (--eval, --task); without one, use a "
                           "label-free fidelity budget (--budget-metric auto, kl, top1, sqnr, cosine or expected-accuracy)");
    if (metric != task_metric(options.task))
      return invalid_input("the " + metric + " budget does not fit the task (" + task_metric(options.task) + " is its metric)");
  }
  if (metric == "auto" && options.eval_path.empty()) {  // kl or sqnr, decided on the outputs
    const std::optional<double>& allowed = options.budget.allowed;
    if (allowed && (!std::isfinite(*allowed) || *allowed < 0))
      return invalid_input("the budget must be a finite number >= 0, got " + std::to_string(*allowed) +
                           (*allowed < 0 ? " (a budget is how much quality may be lost, never a gain)" : ""));
    // kl counts nats lost and sqnr is a floor in dB: one number cannot mean both.
    if (allowed)
      return invalid_input("a label-free budget of " + std::to_string(*allowed) + " needs its metric: auto picks kl (nats) or sqnr (dB) "
                           "from the model's outputs, so name one with --budget-metric kl|top1|sqnr|cosine|expected-accuracy");
    return Status::Ok();
  }
  const std::string resolved = metric == "auto" ? task_metric(options.task) : metric;
  return make_metric_budget(resolved, options.budget.allowed).status();
}

Result<calibration::CalibrationSet::Split> held_back_rows(const calibration::CalibrationSet& calib, const SearchBudget& budget,
                                                          const std::string& eval_path, int64_t holdout_rows) {
  if (!uses_fidelity(budget, eval_path)) return calibration::CalibrationSet::Split{calib, calib};
  return calib.split_last(holdout_rows);
}

Result<std::unique_ptr<QualityEvaluator>> make_evaluator(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                                         const EvaluatorOptions& options) {
  EMBER_TRY(check_budget_request(options));
  if (uses_fidelity(options.budget, options.eval_path)) {
    const calibration::CalibrationSet& rows = calib.held_back() ? *calib.held_back() : calib;
    EMBER_ASSIGN_OR_RETURN(auto evaluator, make_fidelity_evaluator(fp32, rows, options.budget.metric, options.threads));
    EMBER_TRY(evaluator->budget(options.budget.allowed).status());
    return evaluator;
  }
  EMBER_TRY(check_eval_labels(options));
  return std::unique_ptr<QualityEvaluator>(new TaskEvaluator(options));
}

}  // namespace ember::passes
