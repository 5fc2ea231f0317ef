// ember opt MODEL --passes "..." -o OUT: runs a pass pipeline and saves the result.
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "calibration/dataset.h"
#include "formats/atomic_file.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct OptOptions {
  std::string model;
  std::string pipeline;
  std::string output;
  std::string calib;
  int64_t calib_batch = 1;
  int64_t calib_limit = 0;
  bool external_data = false;
  bool json = false;
};

int run_opt(const OptOptions& opts) {
  auto manager = passes::PassManager::from_text(opts.pipeline);
  if (!manager.ok()) return report(manager.status());
  // A bad output path fails now, not after the work.
  if (Status out = formats::check_output_path(opts.output); !out.ok()) return report(out);
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  std::optional<calibration::CalibrationSet> calib;
  if (!opts.calib.empty()) {
    calibration::CalibrationOptions co;
    co.batch = opts.calib_batch;
    co.limit = opts.calib_limit;
    auto set = calibration::CalibrationSet::open(opts.calib, model->graph.feed_inputs(), co);
    if (!set.ok()) return report(set.status());
    calib = std::move(*set);
  }
  passes::AnalysisManager analyses(calib ? &*calib : nullptr);
  Progress progress("analysis", 0);
  analyses.set_progress([&](std::string_view) { return progress.callback(); });
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  formats::SaveOptions save;
  save.external_data = opts.external_data;
  auto writer = write_data_during_passes(opts.output, save, ctx);
  if (!writer.ok()) return report(writer.status());
  Status status = manager->run(*model, ctx);
  if (!status.ok()) return report(status);
  status = formats::save_onnx(*model, opts.output, save);
  if (!status.ok()) return report(status);
  if (opts.json) {
    nlohmann::json j;
    j["output"] = opts.output;
    j["pipeline"] = manager->pipeline_text();
    for (const auto& r : manager->records()) j["passes"].push_back(r.to_json(/*timing=*/true));
    std::printf("%s\n", json_text(j).c_str());
    return kExitOk;
  }
  for (const auto& r : manager->records()) {
    std::printf("%-24s %8.3f s  nodes %zu -> %zu  weights %s -> %s", r.name.c_str(), r.seconds, r.nodes_before, r.nodes_after,
                human_bytes(static_cast<double>(r.weight_bytes_before)).c_str(), human_bytes(static_cast<double>(r.weight_bytes_after)).c_str());
    for (const auto& [counter, value] : r.counters) std::printf("  %s=%g", counter.c_str(), value);
    std::printf("\n");
  }
  std::printf("wrote %s\n", opts.output.c_str());
  return kExitOk;
}

}  // namespace

void add_opt_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<OptOptions>();
  CLI::App* sub = app.add_subcommand("opt", "Run a pipeline of passes on a model and save the result");
  sub->add_option("model", opts->model, "The ONNX model to transform")->required();
  sub->add_option("--passes,-p", opts->pipeline, "Pipeline text, e.g. \"dce,remove-identity,dedupe-initializers\" (see `ember passes`); empty: load and save");
  sub->add_option("-o,--output", opts->output, "Where to write the transformed model")->required();
  sub->add_option("--calib", opts->calib, "Calibration set for passes that need data (.npy, .npz or a directory)");
  sub->add_option("--calib-batch", opts->calib_batch, "Rows per inference when passes run the calibration set (1 suits exports specialised to batch 1)")->default_val(1)->check(CountIn(1, 1 << 20));
  sub->add_option("--calib-limit", opts->calib_limit, "Use only the first N calibration rows (0 = all; replaying `ember compress --calib-limit N` needs the same N)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_flag("--external-data", opts->external_data, "Write weights to OUTPUT.data beside the model (automatic above 2 GB)");
  sub->add_flag("--json", opts->json, "Print per-pass statistics as JSON");
  sub->final_callback([opts, &exit_code] { exit_code = run_opt(*opts); });
}

}  // namespace ember::cli
