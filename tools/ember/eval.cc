// ember eval MODEL --task lm|classify --data FILE [--limit N] [--json]: the shared protocols.
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "calibration/evaluation.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct EvalCliOptions {
  std::string model;
  std::string task;
  std::string data;
  int64_t limit = 0;
  int64_t batch = 32;
  int threads = 0;
  bool json = false;
};

int run_eval(const EvalCliOptions& opts) {
  apply_threads(opts.threads, "ember eval");
  auto task = calibration::parse_eval_task(opts.task);
  if (!task.ok()) return report(task.status());
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  runtime::InterpreterOptions io;
  io.threads = opts.threads;
  io.fuse_float = true;
  auto interp = runtime::Interpreter::create(*model, io);
  if (!interp.ok()) return report(interp.status().with_context(opts.model));
  calibration::EvalOptions eo;
  eo.task = *task;
  eo.limit = opts.limit;
  eo.batch = opts.batch;
  Progress progress("eval", 0);
  eo.progress = progress.callback();
  auto result = calibration::evaluate(**interp, opts.data, eo);
  if (!result.ok()) return report(result.status());
  if (opts.json) {
    nlohmann::json j = {{"model", opts.model}, {"data", opts.data}, {"task", opts.task}, {"metric", result->metric},
                        {"value", result->value}, {"samples", result->samples}, {"seconds", result->seconds}};
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("%s: %.4f over %lld rows (%.1f s)\n", result->metric.c_str(), result->value,
                static_cast<long long>(result->samples), result->seconds);
  }
  return kExitOk;
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<EvalCliOptions>();
  CLI::App* sub = app.add_subcommand("eval", "Measure a model's quality with the shared evaluation protocols");
  sub->add_option("model", opts->model, "The ONNX model to evaluate")->required();
  sub->add_option("--task", opts->task, "lm: bits per byte on int64 [rows, seq+1] windows (.npy); classify: accuracy on an .npz with input arrays and 'labels'")
      ->required()->check(CLI::IsMember({"lm", "classify"}));
  sub->add_option("--data", opts->data, "The evaluation file")->required();
  sub->add_option("--limit", opts->limit, "Evaluate only the first N rows (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--batch", opts->batch, "Rows per inference for classify")->default_val(32)->check(CountIn(1, 1 << 20));
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  sub->add_flag("--json", opts->json, "Print the result as JSON");
  sub->final_callback([opts, &exit_code] { exit_code = run_eval(*opts); });
}

}  // namespace ember::cli
