// ember compress MODEL --calib SET [--eval SET --task lm|classify] -o DIR: the main job.
// Searches one action per layer (FP32, INT8, INT4 blocks 32/64/128) under an optional target
// (--target-size, --target-bpw, --target-latency with an optional --latency-table, --target-energy)
// and the accuracy budget, verified progressively
// (passes/search/compress.h); --scheme runs fixed uniform recipes instead; --recipe R.json
// fixes the search, and the flags given override it. Without --eval and --task the budget is
// label-free: fidelity to the FP32 model's outputs on the last --holdout-rows calibration rows
// (kl for logits, else sqnr; --budget-metric). Writes DIR/model.onnx, manifest.json,
// report.md, report.html and timings.json (seconds per stage, kept out of the deterministic
// files). Exit 1 when no candidate meets the budget (the best-effort model and report are
// still written, and say so); exit 2 for bad options, recipes or targets the allowed actions
// cannot meet, before any calibration runs.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "calibration/dataset.h"
#include "formats/atomic_file.h"
#include "formats/deployment_config.h"
#include "formats/onnx_save.h"
#include "formats/sha256.h"
#include "passes/report/manifest.h"
#include "passes/report/report_html.h"
#include "passes/search/actions.h"
#include "passes/search/evaluator.h"
#include "passes/search/latency_table.h"
#include "passes/search/recipe_json.h"
#include "runtime/parallel.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct CompressCliOptions {
  std::string model, calib, eval, task, output;
  std::optional<double> budget;  // none: the metric's default
  std::string budget_metric = "auto";
  int64_t holdout_rows = 32;
  std::vector<std::string> schemes;
  std::string target_size;
  int64_t importance_rows = 64;
  std::optional<double> target_bpw;
  std::string target_latency, target_energy;  // "12ms", "2mJ"
  std::string latency_table;    // --latency-table FILE: read, extended with what is measured, written back
  int64_t calib_limit = 0, calib_batch = 1, eval_limit = 0;
  int threads = 0;
  bool json = false;
  formats::DeploymentConfig deployment;  // the manifest's deployment section
  std::vector<double> prune_ratios;  // --prune: FFN neuron and attention head pruning ratios added to the actions
  bool quantize_activations = false;  // --quantize-activations: also offer static INT8 activations
  bool no_prune = false;              // --no-prune: no pruning actions (the defaults include them)
  std::vector<double> head_widths;    // --head-width: head-narrowing ratios measured before the per-layer search
  std::string recipe_path;      // --recipe R.json
  bool print_recipe = false;
  passes::SearchRecipe recipe;  // the recipe file's, under the flags given
};

// --recipe fills the search recipe; each flag given on the command line overrides its field
// (the flags are shorthands for the recipe). A bad recipe is exit 2 before anything is read.
Status merge_recipe(const CLI::App& sub, CompressCliOptions& o) {
  if (!o.recipe_path.empty()) {
    EMBER_ASSIGN_OR_RETURN(o.recipe, passes::read_recipe_file(o.recipe_path));
  }
  auto given = [&](const char* flag) { return sub.get_option(flag)->count() > 0; };
  // A task metric named by the recipe must be the --task's (a flag is checked by budget_request).
  const std::string task_metric = o.task == "lm" ? "bits_per_byte" : "accuracy";
  const std::string& metric = o.recipe.budget.metric;
  if (!given("--budget-metric") && !o.task.empty() && (metric == "bits_per_byte" || metric == "accuracy") && metric != task_metric)
    return invalid_input("recipe '" + o.recipe_path + "': /budget/metric: '" + metric + "' is not the metric of --task " + o.task +
                         " (" + task_metric + ")");
  if (given("--budget-metric")) o.recipe.budget.metric = o.budget_metric; else o.budget_metric = o.recipe.budget.metric;
  if (given("--budget")) o.recipe.budget.allowed = o.budget; else o.budget = o.recipe.budget.allowed;
  if (given("--holdout-rows")) o.recipe.holdout_rows = o.holdout_rows; else o.holdout_rows = o.recipe.holdout_rows;
  const int targets = int(!o.target_size.empty()) + int(o.target_bpw.has_value()) + int(!o.target_latency.empty()) + int(!o.target_energy.empty());
  if (targets > 1) return invalid_input("give one target: --target-size, --target-bpw, --target-latency or --target-energy");
  if (!o.target_latency.empty()) {
    EMBER_ASSIGN_OR_RETURN(const double seconds, passes::parse_latency_seconds(o.target_latency, "--target-latency"));
    o.recipe.target = {passes::SearchTarget::Kind::kLatencySeconds, seconds};
  } else if (!o.target_energy.empty()) {
    EMBER_ASSIGN_OR_RETURN(const double joules, passes::parse_energy_joules(o.target_energy, "--target-energy"));
    o.recipe.target = {passes::SearchTarget::Kind::kEnergyJoules, joules};
  } else if (!o.target_size.empty()) {
    EMBER_ASSIGN_OR_RETURN(const double bytes, passes::parse_size_bytes(o.target_size, "--target-size"));
    o.recipe.target = {passes::SearchTarget::Kind::kSizeBytes, bytes};
  } else if (o.target_bpw) {
    o.recipe.target = {passes::SearchTarget::Kind::kBitsPerWeight, *o.target_bpw};
  }
  if (!o.latency_table.empty() && o.recipe.target.kind != passes::SearchTarget::Kind::kLatencySeconds)
    return invalid_input("--latency-table is read by a latency target only (give --target-latency or a recipe with target.latency)");
  if (o.recipe.target.kind != passes::SearchTarget::Kind::kNone && !o.schemes.empty())
    return invalid_input("--scheme runs fixed uniform recipes; a target needs the search (drop --scheme)");
  if (given("--calib-limit")) o.recipe.calib_limit = o.calib_limit; else o.calib_limit = o.recipe.calib_limit;
  if (given("--eval-limit")) o.recipe.eval_limit = o.eval_limit; else o.eval_limit = o.recipe.eval_limit;
  if (!o.prune_ratios.empty() && !o.schemes.empty()) return invalid_input("--prune adds search actions; --scheme runs no search (drop one)");
  if (o.no_prune && !o.prune_ratios.empty()) return invalid_input("--no-prune and --prune contradict each other (drop one)");
  // --prune replaces the default ratios; --no-prune keeps the default precisions only.
  if ((!o.prune_ratios.empty() || o.no_prune) && o.recipe.actions.empty()) o.recipe.actions = passes::search::default_precisions();
  if (o.no_prune)
    std::erase_if(o.recipe.actions, [](const passes::LayerAction& a) { return a.kind == passes::LayerAction::Kind::kPrune; });
  for (double r : o.prune_ratios) o.recipe.actions.push_back({passes::LayerAction::Kind::kPrune, 0, "rtn", r});
  if (given("--head-width") && !o.schemes.empty()) return invalid_input("--head-width narrows heads before the search; --scheme runs no search (drop one)");
  if (given("--head-width") && o.no_prune) return invalid_input("--no-prune and --head-width contradict each other (drop one)");
  if (given("--head-width")) o.recipe.head_widths = o.head_widths;
  if (o.no_prune) o.recipe.head_widths = std::vector<double>{};
  if (o.quantize_activations && !o.schemes.empty()) return invalid_input("--quantize-activations adds search actions; --scheme runs no search (drop one)");
  if (o.quantize_activations) o.recipe.quantize_activations = true;
  return Status::Ok();
}

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// Seconds per stage (and per candidate) go here, not into the deterministic manifest.
nlohmann::json timings_json(const passes::CompressResult& result) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : result.search.stages)
    stages.push_back({{"name", s.name}, {"candidates", s.candidates}, {"seconds", s.seconds}});
  nlohmann::json candidates = nlohmann::json::array();
  for (const auto& c : result.candidates) {
    double seconds = 0;
    nlohmann::json passes = nlohmann::json::array();
    for (const auto& p : c.passes) {
      seconds += p.seconds;
      passes.push_back({{"name", p.name}, {"seconds", p.seconds}});
    }
    candidates.push_back({{"name", c.scheme}, {"pass_seconds", seconds}, {"measure_seconds", c.measure_seconds}, {"passes", passes}});
  }
  nlohmann::json out = {{"stages", stages}, {"candidates", candidates}};
  const passes::SearchSummary& s = result.search;
  if (s.measured_latency_seconds)
    out["latency"] = {{"measured_seconds", *s.measured_latency_seconds}, {"fp32_measured_seconds", s.fp32_measured_latency_seconds.value_or(0)},
                      {"predicted_seconds", s.predicted_latency_seconds.value_or(0)}, {"table_entries", s.latency_entries},
                      {"table_measured", s.latency_measured}, {"table_reused", s.latency_reused}};
  return out;
}

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

// What the manifest records of this run, besides the result.
passes::ManifestInputs manifest_inputs(const CompressCliOptions& opts, const calibration::CalibrationSet& calib,
                                       const passes::CompressResult& result) {
  passes::ManifestInputs in;
  in.tool_version = EMBER_VERSION;
  in.model_file = "model.onnx";
  in.source_file = base_name(opts.model);
  in.source_bytes = std::filesystem::file_size(opts.model);
  in.options = {{"task", opts.task}, {"budget", opts.budget ? std::to_string(*opts.budget) : "default"},
                {"calib", base_name(opts.calib)}, {"eval", base_name(opts.eval)}, {"budget_metric", opts.budget_metric},
                {"holdout_rows", std::to_string(result.holdout_rows)}};
  if (!opts.recipe_path.empty()) in.options["recipe"] = base_name(opts.recipe_path);
  if (!opts.latency_table.empty()) in.options["latency_table"] = base_name(opts.latency_table);
  in.calibration_source = base_name(opts.calib);
  in.calibration_hash = calib.content_hash();
  in.calibration_rows = calib.num_rows() - result.holdout_rows;
  in.eval_source = result.holdout_rows ? base_name(opts.calib) + ", last rows held back" : base_name(opts.eval);
  in.eval_rows = result.eval_rows;
  in.threads = opts.threads;
  in.deployment = opts.deployment;
  return in;
}

// Writes DIR/model.onnx, manifest.json, report.md, report.html and timings.json (each atomically).
Status write_outputs(const CompressCliOptions& opts, const ir::Model& source, const calibration::CalibrationSet& calib,
                     const passes::CompressResult& result, nlohmann::json& manifest, std::string& report_md, nlohmann::json& timings) {
  passes::ManifestInputs in = manifest_inputs(opts, calib, result);
  EMBER_ASSIGN_OR_RETURN(in.source_sha256, formats::sha256_file(opts.model));
  // Layer statistics on one calibration row (batch 1 is what every export accepts).
  const std::map<std::string, Tensor> feeds = calib.batch(0, 0, 1);
  auto stats = passes::measure_layers(source, result.model, feeds);
  if (!stats.ok()) return stats.status().with_context("measuring layers");
  const auto dir = std::filesystem::path(opts.output);
  const std::string model_path = (dir / "model.onnx").string();
  EMBER_TRY(formats::save_onnx(result.model, model_path));
  EMBER_ASSIGN_OR_RETURN(in.model_sha256, formats::sha256_file(model_path));
  in.model_bytes = std::filesystem::file_size(model_path);
  manifest = passes::build_manifest(in, result, *stats, result.model);
  report_md = passes::build_report(in, result, *stats);
  timings = timings_json(result);
  EMBER_TRY(formats::write_string_atomic((dir / "manifest.json").string(), json_text(manifest) + "\n"));
  EMBER_TRY(formats::write_string_atomic((dir / "report.md").string(), report_md));
  EMBER_TRY(formats::write_string_atomic((dir / "report.html").string(), passes::build_report_html(manifest)));
  return formats::write_string_atomic((dir / "timings.json").string(), json_text(timings) + "\n");
}

int run_compress(const CompressCliOptions& opts) {
  if (Status st = formats::validate_deployment(opts.deployment); !st.ok()) return report(st.with_context("the --deploy-* options"));
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
  // A latency table that cannot be read is bad input, found before any work.
  std::optional<passes::LatencyTable> latency_table;
  if (!opts.latency_table.empty()) {
    auto loaded = passes::LatencyTable::load(opts.latency_table);
    if (!loaded.ok()) return report(loaded.status());
    latency_table.emplace(std::move(*loaded));
  }
  OutputDirectory output_dir;  // removed again if the run fails before writing into it
  if (Status made = output_dir.create(opts.output); !made.ok()) return report(made);

  passes::CompressOptions po;
  po.recipe = opts.recipe;  // the recipe file under the flags given (merge_recipe)
  po.recipe.importance_rows = opts.importance_rows;
  po.task = task;
  po.eval_path = opts.eval;
  po.eval_limit = opts.eval_limit;
  po.budget = opts.budget;
  po.schemes = opts.schemes;
  po.recipe.budget = request->budget;
  po.threads = opts.threads;
  po.latency_table = latency_table ? &*latency_table : nullptr;
  const auto started = std::chrono::steady_clock::now();
  po.on_stage = [&](const std::string& stage) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!opts.json) std::fprintf(stderr, "ember compress [%5.0fs]: %s\n", t, stage.c_str());
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
  // What was measured is kept for the next run, even when this one stops (a target below what
  // the table predicts is found only after timing).
  if (latency_table && latency_table->measured() > 0)
    if (Status st = latency_table->save(opts.latency_table); !st.ok()) return report(st.with_context("--latency-table"));
  if (!result.ok()) return report(result.status());

  nlohmann::json manifest, timings;
  std::string report_md;
  if (Status st = write_outputs(opts, *model, *calib, *result, manifest, report_md, timings); !st.ok()) return report(st);

  if (opts.json) {
    nlohmann::json out = manifest;
    out["timings"] = timings;
    std::printf("%s\n", json_text(out).c_str());
  } else {
    std::printf("%s\nwrote %s/model.onnx, manifest.json, report.md, report.html, timings.json\n", report_md.c_str(), opts.output.c_str());
  }
  if (!result->budget_met) {
    std::fprintf(stderr, "ember compress: no candidate met the accuracy budget; wrote the best-effort model (%s)\n",
                 result->candidates[result->chosen].scheme.c_str());
    return kExitBudgetMissed;
  }
  return kExitOk;
}

}  // namespace

void add_compress_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CompressCliOptions>();
  CLI::App* sub = app.add_subcommand("compress", "Compress a model under an accuracy budget by a per-layer search (optionally under --target-size or --target-bpw): writes DIR/model.onnx, manifest.json, report.md, report.html, timings.json");
  sub->add_option("model", opts->model, "The FP32 ONNX model")->required();
  sub->add_option("--calib", opts->calib, "Calibration set: .npy (one input), .npz (keys = input names), or a directory of .npz / input_N.pb")->required();
  sub->add_option("--eval", opts->eval, "Labelled evaluation set for the task's protocol (lm: int64 [rows, seq+1] .npy; classify: .npz with 'labels'); default: none, a label-free fidelity budget");
  sub->add_option("--task", opts->task, "lm (bits per byte) or classify (accuracy), with --eval; default: none")->check(CLI::IsMember({"lm", "classify"}));
  sub->add_option("-o,--output", opts->output, "Output directory")->required();
  sub->add_option("--budget", opts->budget, "Allowed quality loss, in the budget metric's terms: bits_per_byte, relative increase (default 0.015); "
                  "accuracy, absolute drop (0.01); kl, increase in nats (0.01); top1, drop of argmax agreement (0.01); sqnr, lowest dB (20); "
                  "cosine, drop of mean cosine (0.005); expected-accuracy, expected accuracy drop under the FP32 probabilities (0.01). Negative, NaN or more than the metric can take is refused; without --eval, name the metric with --budget-metric");
  sub->add_option("--budget-metric", opts->budget_metric, "auto (the task's metric with --eval, else kl for logits and sqnr for other outputs), "
                  "bits_per_byte, accuracy, kl, top1, sqnr, cosine or expected-accuracy (label-free: against the FP32 outputs on held-back calibration rows)")
      ->default_val("auto");
  sub->add_option("--holdout-rows", opts->holdout_rows, "Label-free budgets: the last N calibration rows (after --calib-limit) are held back "
                  "from calibration and measure fidelity; the set needs at least N+1 rows")->default_val(32)->check(CountIn(1, 1 << 20));
  sub->add_option("--scheme", opts->schemes,
                  "Instead of the search, try these uniform schemes in order (int4-gptq, int4-mixed, w8a8, w8); default: none (search)");
  sub->add_option("--target-size", opts->target_size,
                  "Hard limit on the model file: the least predicted loss that fits, e.g. 3MB, 7.41MB, 500KB (B/KB/MB/GB decimal, "
                  "KiB/MiB/GiB binary); default: none (the smallest model within the budget)");
  sub->add_option("--target-bpw", opts->target_bpw,
                  "Hard limit on the mean bits per weight of the compressed layers (codes and scales), e.g. 4.5; default: none")
      ->check(CLI::Range(0.5, 32.0));
  sub->add_option("--target-latency", opts->target_latency,
                  "Hard limit on the predicted latency of one inference (one calibration row, batch 1) on this CPU, e.g. 12ms, 800us, 0.02s: "
                  "each layer shape's time under each precision is measured once with Ember's kernels inside the whole model (a lookup table; one "
                  "run of the model per precision, per-layer medians, so a busy machine's preemptions drop out). The chosen model then depends on measured timings: give --latency-table to record them and reproduce it. "
                  "The manifest and report add the end-to-end latency measured on the chosen model (so they differ between runs); default: none");
  sub->add_option("--target-energy", opts->target_energy,
                  "Hard limit on the estimated energy of one inference (one calibration row), e.g. 2mJ, 900uJ: the manifest's energy model "
                  "(DRAM 20 pJ/byte of weights read, fp32 MAC 4.6 pJ, int8 MAC 0.23 pJ); deterministic; default: none");
  sub->add_option("--latency-table", opts->latency_table,
                  "With --target-latency: a latency lookup table (JSON, keyed by ISA level, threads, layer shape and precision) to read; "
                  "entries it lacks are measured and written back, so a second run measures nothing and picks the same model (default: none, "
                  "measure every entry)");
  sub->add_option("--prune", opts->prune_ratios,
                  "FFN neuron and attention head pruning ratios the search may combine with each precision, e.g. 0.05,0.1,0.2,0.3 (each in (0, 0.9]; "
                  "added to the recipe's actions, or replacing the default ratios); default: 0.05,0.1,0.2,0.3,0.4,0.5 without a target, 0.05,0.1,0.2,0.3 under one (there the allocation rests on predictions alone), unless the recipe lists its actions")
      ->delimiter(',')->check(CLI::Range(0.001, 0.9));
  sub->add_flag("--no-prune", opts->no_prune, "Offer no pruning actions (the default set prunes FFN neurons and attention heads at 5-50% without a target, 5-30% under one, and narrows heads without a target)");
  sub->add_option("--head-width", opts->head_widths,
                  "Before the per-layer search, every attention head may lose this share of its channels (prune-structured{head-width=R}: "
                  "query/key and value/output in new bases): each ratio is applied and measured, ascending, and the largest whose damage "
                  "stays within a quarter of the budget is kept; the per-layer search gets the rest of the budget, and the manifest's "
                  "pipeline starts with the narrowing. e.g. 0.25,0.5 (each in (0, 0.95]); default: 0.25,0.5,0.75 without a target "
                  "(kjv-bert label-free: 0.75, KL 0.002), none under one")
      ->delimiter(',')->check(CLI::Range(0.001, 0.95));
  sub->add_flag("--quantize-activations", opts->quantize_activations,
               "Also offer INT8 weights with static INT8 activations (scales calibrated once, QDQ on the input) to every MatMul/Gemm "
               "layer read by one node (the recipe's quantize_activations); default: off");
  sub->add_option("--importance-rows", opts->importance_rows,
                  "Calibration rows the search's gradient importance scores, the first N of those not held back (0 = all; a forward "
                  "and a backward pass per row, the search's costliest analysis; layer statistics and GPTQ use every row; the pruning actions' scores come from the same rows, and the "
                  "replayed prune-structured gets importance-rows=N; on kjv-gpt2's +1% budget 256 rows chose a smaller pruned model than 64)")
      ->default_val(64)->check(CountIn(0, INT64_MAX));
  sub->add_option("--calib-limit", opts->calib_limit, "Use only the first N calibration rows (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--calib-batch", opts->calib_batch, "Calibration rows per inference (raise it for models that accept larger batches)")->default_val(1)->check(CountIn(1, 1 << 20));
  sub->add_option("--eval-limit", opts->eval_limit, "Evaluate only the first N rows (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  // The manifest's deployment section, which ember-rt obeys (schemas/manifest.schema.json).
  auto& d = opts->deployment;
  sub->add_option("--deploy-backend", d.backend, "Backend ember-rt should use: cpu (best ISA level), cpu-scalar, cpu-avx2, cpu-avxvnni, cpu-avx512")
      ->default_val("cpu")->check(CLI::IsMember({"cpu", "cpu-scalar", "cpu-avx2", "cpu-avxvnni", "cpu-avx512"}));
  auto& sched = d.scheduler;
  sub->add_option("--deploy-workers", sched.workers, "ember-rt serve's inference workers (0 = the cores available)")->default_val(0);
  sub->add_option("--deploy-urgent-share", sched.urgent_reserved_share, "Share of the workers reserved for urgent requests, in [0, 0.9]")->default_val(0.2);
  sub->add_option("--deploy-max-batch", sched.max_batch, "Largest dynamic batch of short requests (1 = none), in [1, 256]")->default_val(8);
  sub->add_option("--deploy-max-queue-delay-us", sched.max_queue_delay_us, "Longest a short request waits for a batch")->default_val(2000);
  sub->add_option("--deploy-thermal-threshold", d.thermal.threshold_c, "Degrees Celsius above which ember-rt serve throttles, in [0, 150]")->default_val(85);
  sub->add_flag("--json", opts->json, "Print the manifest as JSON (with a \"timings\" member: seconds per search stage) instead of the report");
  sub->add_option("--recipe", opts->recipe_path, "Recipe file (schemas/recipe.schema.json): target, budget, actions, per-layer overrides, limits; the flags given override it (default: none)");
  sub->add_flag("--print-recipe", opts->print_recipe, "Print the effective recipe (the file under the flags) as JSON and exit without compressing");
  sub->final_callback([opts, sub, &exit_code] {
    if (Status st = merge_recipe(*sub, *opts); !st.ok()) {
      exit_code = report(st);
      return;
    }
    if (opts->print_recipe) {
      std::printf("%s\n", json_text(passes::recipe_to_json(opts->recipe)).c_str());
      exit_code = kExitOk;
      return;
    }
    exit_code = run_compress(*opts);
  });
}

}  // namespace ember::cli
