// ember compress MODEL --calib SET [--eval SET --task lm|classify] -o DIR: the main job.
// Without --eval and --task the budget is label-free: fidelity to the FP32 model's outputs on
// the last --holdout-rows calibration rows (kl for logits, else sqnr; --budget-metric).
// Tries compression schemes from the smallest model up, keeps the first within the accuracy
// budget, and writes DIR/model.onnx, DIR/manifest.json and DIR/report.md. Exit 1 when no
// scheme meets the budget (the best-effort model and report are still written, and say so).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "calibration/dataset.h"
#include "formats/atomic_file.h"
#include "formats/onnx_save.h"
#include "formats/sha256.h"
#include "passes/report/manifest.h"
#include "passes/search/evaluator.h"
#include "runtime/parallel.h"
#include "tools/ember/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct CompressCliOptions {
  std::string model, calib, eval, task, output;
  std::optional<double> budget;  // none: the metric's default
  std::string budget_metric = "auto";
  int64_t holdout_rows = 32;
  std::vector<std::string> schemes;
  int64_t calib_limit = 0, calib_batch = 1, eval_limit = 0;
  int threads = 0;
  bool json = false;
  passes::DeploymentSettings deployment;
};

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// The budget request, checked before the model or any data is read (exit 2 saying why).
Result<passes::EvaluatorOptions> budget_request(const CompressCliOptions& opts) {
  if (opts.eval.empty() != opts.task.empty())
    return invalid_input(opts.eval.empty() ? "--task needs a labelled eval set (--eval); without one, leave out --task for the label-free fidelity budget"
                                           : "--eval needs --task (lm or classify) to say how the eval set is scored");
  passes::EvaluatorOptions eo;
  if (!opts.task.empty()) {
    EMBER_ASSIGN_OR_RETURN(eo.task, calibration::parse_eval_task(opts.task));
  }
  eo.eval_path = opts.eval;
  eo.budget.metric = opts.budget_metric;
  eo.budget.allowed = opts.budget;
  EMBER_TRY(passes::check_budget_request(eo));
  return eo;
}

int run_compress(const CompressCliOptions& opts) {
  auto request = budget_request(opts);
  if (!request.ok()) return report(request.status());
  const calibration::EvalTask task = request->task;
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  apply_threads(opts.threads, "ember compress");
  calibration::CalibrationOptions co;
  co.limit = opts.calib_limit;
  co.batch = opts.calib_batch;
  auto calib = calibration::CalibrationSet::open(opts.calib, model->graph.feed_inputs(), co);
  if (!calib.ok()) return report(calib.status());
  OutputDirectory output_dir;  // removed again if the run fails before writing into it
  if (Status made = output_dir.create(opts.output); !made.ok()) return report(made);

  passes::CompressOptions po;
  po.task = task;
  po.eval_path = opts.eval;
  po.eval_limit = opts.eval_limit;
  po.budget = opts.budget;
  po.schemes = opts.schemes;
  po.recipe.budget = request->budget;
  po.recipe.holdout_rows = opts.holdout_rows;
  po.threads = opts.threads;
  po.on_stage = [&](const std::string& stage) {
    if (!opts.json) std::fprintf(stderr, "ember compress: %s\n", stage.c_str());
  };
  // Long analyses (the layer inputs GPTQ needs) draw a progress bar on a terminal.
  std::optional<Progress> analysis_bar;
  po.analysis_progress = [&](std::string_view analysis) -> passes::ProgressFn {
    if (opts.json) return {};
    analysis_bar.emplace(std::string(analysis), 0);
    return analysis_bar->callback();
  };
  auto result = passes::compress_model(*model, *calib, po);
  analysis_bar.reset();
  if (!result.ok()) return report(result.status());

  auto source_hash = formats::sha256_file(opts.model);
  if (!source_hash.ok()) return report(source_hash.status());
  passes::ManifestInputs in;
  in.tool_version = EMBER_VERSION;
  in.model_file = "model.onnx";
  in.source_file = base_name(opts.model);
  in.source_sha256 = *source_hash;
  in.source_bytes = std::filesystem::file_size(opts.model);
  in.options = {{"task", opts.task}, {"budget", opts.budget ? std::to_string(*opts.budget) : "default"},
                {"calib", base_name(opts.calib)}, {"eval", base_name(opts.eval)}, {"budget_metric", opts.budget_metric},
                {"holdout_rows", std::to_string(result->holdout_rows)}};
  in.calibration_source = base_name(opts.calib);
  in.calibration_hash = calib->content_hash();
  in.calibration_rows = calib->num_rows() - result->holdout_rows;
  in.eval_source = result->holdout_rows ? base_name(opts.calib) + ", last rows held back"
                                        : base_name(opts.eval);
  in.threads = opts.threads;
  in.deployment = opts.deployment;

  // Layer statistics on one calibration row (batch 1 is what every export accepts).
  std::map<std::string, Tensor> feeds = calib->batch(0);
  for (auto& [name, t] : feeds) t = calibration::slice_rows(t, 0, 1);
  auto stats = passes::measure_layers(*model, result->model, feeds);
  if (!stats.ok()) return report(stats.status().with_context("measuring layers"));
  in.eval_rows = result->eval_rows;
  const auto dir = std::filesystem::path(opts.output);
  const std::string model_path = (dir / "model.onnx").string();
  Status st = formats::save_onnx(result->model, model_path);
  if (!st.ok()) return report(st);
  auto model_hash = formats::sha256_file(model_path);
  if (!model_hash.ok()) return report(model_hash.status());
  in.model_sha256 = *model_hash;
  in.model_bytes = std::filesystem::file_size(model_path);
  const nlohmann::json manifest = passes::build_manifest(in, *result, *stats, result->model);
  const std::string report_md = passes::build_report(in, *result, *stats);
  st = formats::write_string_atomic((dir / "manifest.json").string(), json_text(manifest) + "\n");
  if (st.ok()) st = formats::write_string_atomic((dir / "report.md").string(), report_md);
  if (!st.ok()) return report(st);

  if (opts.json)
    std::printf("%s\n", json_text(manifest).c_str());
  else
    std::printf("%s\nwrote %s/model.onnx, manifest.json, report.md\n", report_md.c_str(), opts.output.c_str());
  if (!result->budget_met) {
    std::fprintf(stderr, "ember compress: no scheme met the accuracy budget; wrote the best-effort model (%s)\n",
                 result->candidates[result->chosen].scheme.c_str());
    return kExitBudgetMissed;
  }
  return kExitOk;
}

}  // namespace

void add_compress_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CompressCliOptions>();
  CLI::App* sub = app.add_subcommand("compress", "Compress a model under an accuracy budget: writes DIR/model.onnx, manifest.json, report.md");
  sub->add_option("model", opts->model, "The FP32 ONNX model")->required();
  sub->add_option("--calib", opts->calib, "Calibration set: .npy (one input), .npz (keys = input names), or a directory of .npz / input_N.pb")->required();
  sub->add_option("--eval", opts->eval, "Labelled evaluation set for the task's protocol (lm: int64 [rows, seq+1] .npy; classify: .npz with 'labels'); default: none, a label-free fidelity budget");
  sub->add_option("--task", opts->task, "lm (bits per byte) or classify (accuracy), with --eval; default: none")->check(CLI::IsMember({"lm", "classify"}));
  sub->add_option("-o,--output", opts->output, "Output directory")->required();
  sub->add_option("--budget", opts->budget, "Allowed quality loss, in the budget metric's terms: bits_per_byte, relative increase (default 0.015); "
                  "accuracy, absolute drop (0.01); kl, increase in nats (0.01); top1, drop of argmax agreement (0.01); sqnr, lowest dB (20); "
                  "cosine, drop of mean cosine (0.005). Negative, NaN or more than the metric can take is refused; without --eval, name the metric with --budget-metric");
  sub->add_option("--budget-metric", opts->budget_metric, "auto (the task's metric with --eval, else kl for logits and sqnr for other outputs), "
                  "bits_per_byte, accuracy, kl, top1, sqnr or cosine (label-free: against the FP32 outputs on held-back calibration rows)")
      ->default_val("auto");
  sub->add_option("--holdout-rows", opts->holdout_rows, "Label-free budgets: the last N calibration rows (after --calib-limit) are held back "
                  "from calibration and measure fidelity; the set needs at least N+1 rows")->default_val(32)->check(CountIn(1, 1 << 20));
  sub->add_option("--scheme", opts->schemes, "Schemes to try, in order (int4-gptq, int4-mixed, w8a8, w8); default: all, smallest first");
  sub->add_option("--calib-limit", opts->calib_limit, "Use only the first N calibration rows (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--calib-batch", opts->calib_batch, "Calibration rows per inference (raise it for models that accept larger batches)")->default_val(1)->check(CountIn(1, 1 << 20));
  sub->add_option("--eval-limit", opts->eval_limit, "Evaluate only the first N rows (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  // The manifest's deployment section, which ember-rt obeys (schemas/manifest.schema.json).
  auto& d = opts->deployment;
  sub->add_option("--deploy-backend", d.backend, "Backend ember-rt should use: cpu (best ISA level), cpu-scalar, cpu-avx2, cpu-avxvnni, cpu-avx512")
      ->default_val("cpu")->check(CLI::IsMember({"cpu", "cpu-scalar", "cpu-avx2", "cpu-avxvnni", "cpu-avx512"}));
  sub->add_option("--deploy-workers", d.workers, "ember-rt serve's inference workers (0 = the cores available)")->default_val(0)->check(CLI::Range(0, 256));
  sub->add_option("--deploy-urgent-share", d.urgent_reserved_share, "Share of the workers reserved for urgent requests")->default_val(0.2)->check(CLI::Range(0.0, 0.9));
  sub->add_option("--deploy-max-batch", d.max_batch, "Largest dynamic batch of short requests (1 = none)")->default_val(8)->check(CLI::Range(1, 256));
  sub->add_option("--deploy-max-queue-delay-us", d.max_queue_delay_us, "Longest a short request waits for a batch")->default_val(2000)->check(CLI::Range(0, 10000000));
  sub->add_option("--deploy-thermal-threshold", d.thermal_threshold_c, "Degrees Celsius above which ember-rt serve throttles")->default_val(85)->check(CLI::Range(0.0, 150.0));
  sub->add_flag("--json", opts->json, "Print the manifest as JSON instead of the report");
  sub->final_callback([opts, &exit_code] { exit_code = run_compress(*opts); });
}

}  // namespace ember::cli
