#include "passes/search/fidelity_evaluator.h"

#include <chrono>

#include "calibration/fidelity.h"
#include "runtime/interpreter.h"

namespace ember::passes {
namespace {

runtime::InterpreterOptions interpreter_options(int threads) {
  runtime::InterpreterOptions io;
  io.threads = threads;
  io.fuse_float = true;  // the same kernels the reference was captured with
  return io;
}

class FidelityEvaluator final : public QualityEvaluator {
 public:
  FidelityEvaluator(calibration::FidelityReference reference, calibration::FidelityMetric metric, int threads)
      : reference_(std::move(reference)), metric_(metric), threads_(threads) {}

  Result<calibration::EvalResult> measure(const ir::Model& model) override {
    const auto start = std::chrono::steady_clock::now();
    EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model, interpreter_options(threads_)));
    EMBER_ASSIGN_OR_RETURN(const double value, calibration::measure_fidelity(*interp, reference_, metric_));
    calibration::EvalResult result;
    result.metric = calibration::fidelity_metric_name(metric_);
    result.value = value;
    result.samples = reference_.rows;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  Result<Budget> budget(std::optional<double> allowed) const override {
    return make_metric_budget(calibration::fidelity_metric_name(metric_), allowed);
  }

 private:
  calibration::FidelityReference reference_;
  calibration::FidelityMetric metric_;
  int threads_;
};

}  // namespace

Result<std::unique_ptr<QualityEvaluator>> make_fidelity_evaluator(const ir::Model& fp32, const calibration::CalibrationSet& held_back,
                                                                  const std::string& metric, int threads) {
  if (metric != "auto") EMBER_TRY(calibration::parse_fidelity_metric(metric).status());
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(fp32, interpreter_options(threads)));
  EMBER_ASSIGN_OR_RETURN(calibration::FidelityReference reference, calibration::capture_reference(*interp, held_back));
  calibration::FidelityMetric chosen = calibration::auto_fidelity_metric(fp32.graph, reference);
  if (metric != "auto") {
    EMBER_ASSIGN_OR_RETURN(chosen, calibration::parse_fidelity_metric(metric));
  }
  EMBER_TRY(calibration::check_metric_fits(chosen, reference));
  return std::unique_ptr<QualityEvaluator>(new FidelityEvaluator(std::move(reference), chosen, threads));
}

}  // namespace ember::passes
