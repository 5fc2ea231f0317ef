// ember calibrate MODEL --data SET --method minmax|percentile|entropy|mse -o table.json:
// observes activations over a calibration set and writes a calibration table
// (schemas/calibration_table.schema.json). By default it observes the run-time inputs of
// MatMul, Gemm and Conv, which is what static INT8 quantizes.
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

#include "calibration/calibrator.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct CalibrateOptions {
  std::string model;
  std::string data;
  std::string output;
  std::string method = "minmax";
  double percentile = 99.99;
  bool per_channel = false;
  int axis = -1;
  int bins = 0;
  int64_t batch = 8;
  int64_t limit = 0;
  std::string values;
  int threads = 0;
  bool json = false;
};

// Non-constant values whose name matches `pattern`: graph inputs first, then node outputs.
Result<std::vector<std::string>> values_matching(const ir::Model& model, const std::string& pattern) {
  std::regex re;
  try {
    re = std::regex(pattern);
  } catch (const std::regex_error& e) {
    return invalid_input("--values: '" + pattern + "' is not a valid regular expression (" + e.what() + ")");
  }
  const std::set<std::string> constants = calibration::constant_values(model.graph);
  std::vector<std::string> names;
  auto consider = [&](const std::string& name) {
    if (!name.empty() && !constants.count(name) && std::regex_search(name, re)) names.push_back(name);
  };
  for (const auto* in : model.graph.feed_inputs()) consider(in->name);
  for (const auto& node : model.graph.nodes)
    for (const auto& out : node.outputs) consider(out);
  if (names.empty()) return invalid_input("--values: no run-time value of the model matches '" + pattern + "'");
  return names;
}

int run_calibrate(const CalibrateOptions& opts) {
  apply_threads(opts.threads, "ember calibrate");
  auto method = calibration::parse_calibration_method(opts.method);
  if (!method.ok()) return report(method.status());
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  calibration::CalibrationOptions co;
  co.batch = opts.batch;
  co.limit = opts.limit;
  auto set = calibration::CalibrationSet::open(opts.data, model->graph.feed_inputs(), co);
  if (!set.ok()) return report(set.status());

  calibration::CalibratorOptions options;
  options.observer.method = *method;
  options.observer.percentile = opts.percentile;
  options.observer.bins = opts.bins;
  if (opts.per_channel) options.observer.channel_axis = opts.axis;
  options.threads = opts.threads;
  if (opts.values.empty()) {
    options.values = calibration::activation_inputs(*model);
    if (options.values.empty())
      return report(invalid_input(opts.model + " has no MatMul, Gemm or Conv with a run-time input; choose values with --values REGEX"));
  } else {
    auto names = values_matching(*model, opts.values);
    if (!names.ok()) return report(names.status());
    options.values = *names;
  }
  Progress progress("calibrate", set->num_batches());
  options.progress = progress.callback();
  auto result = calibration::calibrate_values(*model, *set, options);
  if (!result.ok()) return report(result.status());
  calibration::CalibrationTable table = calibration::make_calibration_table(*result, options.observer, *set);
  table.model = opts.model;
  Status saved = calibration::save_table(table, opts.output);
  if (!saved.ok()) return report(saved);

  if (opts.json) {
    nlohmann::json j = {{"output", opts.output}, {"method", opts.method}, {"values", table.values.size()},
                        {"rows", result->rows}, {"batches", result->batches}, {"skipped", result->skipped}};
    std::printf("%s\n", json_text(j).c_str());
    return kExitOk;
  }
  std::printf("calibrated %zu values over %lld rows (%lld batches) with %s\n", table.values.size(),
              static_cast<long long>(result->rows), static_cast<long long>(result->batches), opts.method.c_str());
  for (const auto& [name, why] : result->skipped) std::printf("  skipped %s: %s\n", name.c_str(), why.c_str());
  std::printf("wrote %s\n", opts.output.c_str());
  return kExitOk;
}

}  // namespace

void add_calibrate_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CalibrateOptions>();
  CLI::App* sub = app.add_subcommand("calibrate", "Observe activation ranges over a calibration set and write a calibration table");
  sub->add_option("model", opts->model, "The ONNX model to calibrate")->required();
  sub->add_option("--data", opts->data, "Calibration set: .npy (one input), .npz (arrays named after the inputs), or a directory")->required();
  sub->add_option("-o,--output", opts->output, "Where to write the table (JSON)")->required();
  sub->add_option("--method", opts->method, "How to choose the clip range")
      ->default_val("minmax")->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
  sub->add_option("--percentile", opts->percentile, "With --method percentile: the share of values kept on each side, in (0, 100]")->default_val(99.99)->check(FiniteIn(1e-9, 100));
  sub->add_flag("--per-channel", opts->per_channel, "Also record per-channel statistics along --axis");
  sub->add_option("--axis", opts->axis, "Channel axis for --per-channel (negative counts from the end)")->default_val(-1)->check(CountIn(-64, 63));
  sub->add_option("--bins", opts->bins, "Histogram bins (0: 4096 per tensor, 2048 per channel; at most 2^20)")->default_val(0)->check(CountIn(0, 1 << 20));
  sub->add_option("--batch", opts->batch, "Rows per inference")->default_val(8)->check(CountIn(1, 1 << 20));
  sub->add_option("--limit", opts->limit, "Use only the first N rows of the set (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--values", opts->values, "Observe the run-time values whose name matches this regular expression "
                                            "(default: the inputs of MatMul, Gemm and Conv)");
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  sub->add_flag("--json", opts->json, "Print a summary as JSON");
  sub->final_callback([opts, &exit_code] { exit_code = run_calibrate(*opts); });
}

}  // namespace ember::cli
