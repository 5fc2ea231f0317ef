#include "passes/search/evaluator.h"

#include "runtime/interpreter.h"

namespace ember::passes {
namespace {

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
    const bool lm = options_.task == calibration::EvalTask::kLanguageModel;
    return make_budget(lm, allowed.value_or(lm ? 0.015 : 0.01));
  }

 private:
  EvaluatorOptions options_;
};

}  // namespace

Result<std::unique_ptr<QualityEvaluator>> make_evaluator(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                                         const EvaluatorOptions& options) {
  (void)fp32;
  (void)calib;
  const std::string& metric = options.budget.metric;
  if (metric == "auto" || metric == "bits_per_byte" || metric == "accuracy") {
    if (options.eval_path.empty())
      return invalid_input("the task metric needs an eval set (--eval); without one, use a label-free fidelity budget");
    return std::unique_ptr<QualityEvaluator>(new TaskEvaluator(options));
  }
  return invalid_input("unknown budget metric '" + metric + "' (auto, bits_per_byte, accuracy)");
}

}  // namespace ember::passes
