#include "calibration/calibrator.h"

#include <algorithm>

#include "runtime/interpreter.h"

namespace ember::calibration {

std::set<std::string> constant_values(const ir::Graph& graph) {
  std::set<std::string> overridable, constants;
  for (const auto& in : graph.inputs) overridable.insert(in.name);
  for (const auto& [name, t] : graph.initializers)
    if (!overridable.count(name)) constants.insert(name);
  for (const auto& node : graph.nodes) {
    bool has_subgraph = false;
    for (const auto& a : node.attributes) has_subgraph |= a.g != nullptr || !a.graphs.empty();
    bool all_constant = node.op_type == "Constant";
    if (!all_constant && !has_subgraph) {
      size_t read = 0;
      all_constant = true;
      for (const auto& in : node.inputs) {
        if (in.empty()) continue;
        ++read;
        all_constant &= constants.count(in) > 0;
      }
      all_constant &= read > 0;  // input-free nodes other than Constant are generators
    }
    if (all_constant)
      for (const auto& out : node.outputs)
        if (!out.empty()) constants.insert(out);
  }
  return constants;
}

std::vector<std::string> activation_inputs(const ir::Model& model, const std::set<std::string>& op_types) {
  const ir::Graph& graph = model.graph;
  const std::set<std::string> constants = constant_values(graph);
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& node : graph.nodes) {
    if (!node.domain.empty() || !op_types.count(node.op_type)) continue;
    size_t data_inputs = node.inputs.size();
    if (node.op_type == "MatMul" || node.op_type == "Gemm") data_inputs = 2;
    if (node.op_type == "Conv" || node.op_type == "ConvTranspose") data_inputs = 1;
    for (size_t i = 0; i < std::min(data_inputs, node.inputs.size()); ++i) {
      const std::string& in = node.inputs[i];
      if (in.empty() || constants.count(in) || !seen.insert(in).second) continue;
      names.push_back(in);
    }
  }
  return names;
}

namespace {

std::string batch_context(const CalibrationSet& set, int64_t batch, int64_t first_row, int64_t rows) {
  return set.source() + ", batch " + std::to_string(batch) + " (rows " + std::to_string(first_row) + ".." +
         std::to_string(first_row + rows - 1) + ")";
}

bool is_float(DType d) { return d == DType::kF32 || d == DType::kF16 || d == DType::kBF16 || d == DType::kF64; }

}  // namespace

Result<CalibrationResult> calibrate_values(const ir::Model& model, const CalibrationSet& set, const CalibratorOptions& options) {
  EMBER_TRY(check_observer_options(options.observer));
  std::set<std::string> defined;
  for (const auto& in : model.graph.inputs) defined.insert(in.name);
  for (const auto& [name, t] : model.graph.initializers) defined.insert(name);
  for (const auto& node : model.graph.nodes)
    for (const auto& out : node.outputs) defined.insert(out);
  std::map<std::string, Observer> observers;
  for (const auto& name : options.values) {
    if (!defined.count(name)) return invalid_input("calibration: the model has no value named '" + name + "'");
    observers.emplace(name, Observer(name, options.observer));
  }

  runtime::InterpreterOptions io;
  io.threads = options.threads;
  auto interp = runtime::Interpreter::create(model, io);
  if (!interp.ok()) {
    const Status& s = interp.status();
    if (s.code() == StatusCode::kUnsupported)
      return Status(s.code(), "calibration must run the model, and the interpreter cannot: " + s.message() +
                                  ". Quantization that needs no calibration (quantize-weights, quantize-activations{mode=dynamic}) still works");
    return s.with_context("calibration");
  }

  CalibrationResult result;
  std::set<std::string> observed_once;
  const int64_t total = set.num_batches();
  for (int64_t b = 0; b < total; ++b) {
    std::map<std::string, Tensor> feeds = set.batch(b);
    const int64_t rows = set.batch_rows(b);
    const std::string where = "calibration, " + batch_context(set, b, result.rows, rows);
    bool observer_failed = false;
    auto observe = [&](const std::string& name, const Tensor& value) -> Status {
      auto it = observers.find(name);
      if (it == observers.end()) return Status::Ok();
      if (!is_float(value.dtype())) {
        result.skipped[name] = "holds " + std::string(dtype_name(value.dtype())) + ", not float";
        return Status::Ok();
      }
      observed_once.insert(name);
      Status s = it->second.observe(value);
      observer_failed = !s.ok();
      return s.with_context(where);
    };
    for (const auto& [name, tensor] : feeds) EMBER_TRY(observe(name, tensor));
    auto run = (*interp)->run(feeds, observe);
    if (!run.ok()) {
      if (observer_failed) return run.status();
      Status failed = run.status().with_context(where);
      // Exports specialised to batch 1 often fail only with more rows per run.
      if (rows > 1) failed = Status(failed.code(), failed.message() + " (if the model runs one row at a time, calibrate with batch 1)");
      return failed;
    }
    result.rows += rows;
    result.batches = b + 1;
    if (options.progress) options.progress(b + 1, total);
    if (options.max_rows > 0 && result.rows >= options.max_rows) break;
  }
  for (auto& [name, observer] : observers) {
    if (result.skipped.count(name)) continue;
    if (!observed_once.count(name)) {
      result.skipped[name] = "constant at run time (folded when the model loads)";
      continue;
    }
    EMBER_ASSIGN_OR_RETURN(ObserverResult r, observer.result());
    result.values.emplace(name, std::move(r));
  }
  return result;
}

CalibrationTable make_calibration_table(const CalibrationResult& result, const ObserverOptions& options, const CalibrationSet& set) {
  CalibrationTable table;
  table.method = calibration_method_name(options.method);
  if (options.method == CalibrationMethod::kPercentile) table.percentile = options.percentile;
  table.calibration_source = set.source();
  table.calibration_hash = set.content_hash();
  table.calibration_rows = result.rows;
  for (const auto& [name, r] : result.values) table.values[name] = make_table_entry(r, options.method);
  return table;
}

}  // namespace ember::calibration
