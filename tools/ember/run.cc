// ember run MODEL --input name=FILE ... [--output-dir DIR]: one inference, outputs as .npy.
// Inputs and outputs may be sequences and optionals (tools/common/value_io.h): a sequence
// output is written as one file per tensor (NAME.0.npy, ...), one .npz or one .pb.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/interpreter.h"
#include "tools/common/cli_checks.h"
#include "tools/common/value_io.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir;
  int threads = 0;
  std::string sequence_format = "npy";
  bool json = false;
  bool reference = false;
};

int run_run(const RunOptions& opts) {
  apply_threads(opts.threads, "ember run");
  auto format = formats::parse_value_file_format(opts.sequence_format);
  if (!format.ok()) return report(format.status().with_context("--sequence-format"));
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  runtime::InterpreterOptions io;
  io.threads = opts.threads;
  io.integer_kernels = !opts.reference;
  io.fuse_float = !opts.reference;
  auto interp = runtime::Interpreter::create(*model, io);
  if (!interp.ok()) return report(interp.status().with_context(opts.model));
  auto feeds = read_input_values(opts.inputs, (*interp)->feed_inputs());
  if (!feeds.ok()) return report(feeds.status());
  auto outputs = (*interp)->run_values(*feeds);
  if (!outputs.ok()) return report(outputs.status());
  const auto output_names = (*interp)->output_names();
  OutputDirectory output_dir;  // removed again if no output could be written into it
  if (!opts.output_dir.empty())
    if (Status made = output_dir.create(opts.output_dir); !made.ok()) return report(made);
  nlohmann::json j = nlohmann::json::array();
  for (size_t i = 0; i < output_names.size(); ++i) {
    auto entry = emit_output(output_names[i], (*outputs)[i], opts.output_dir, *format);
    if (!entry.ok()) return report(entry.status());
    j.push_back(std::move(entry).value());
  }
  if (opts.json) std::printf("%s\n", json_text(j).c_str());
  else std::printf("%s", outputs_text(j).c_str());
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once on inputs from .npy/.npz/.pb files and write its outputs");
  sub->add_option("model", opts->model, "The ONNX model to run")->required();
  sub->add_option("--input,-i", opts->inputs, kInputHelp);
  sub->add_option("--output-dir,-o", opts->output_dir,
                  "Write each output to DIR/<output name>.npy (sequences and optionals: see --sequence-format)");
  sub->add_option("--sequence-format", opts->sequence_format, kSequenceFormatHelp)->default_val("npy")->check(CLI::IsMember({"npy", "npz", "pb"}));
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  sub->add_flag("--json", opts->json,
                "Print the outputs as JSON: per output its kind, dtype and shape (or type and length), min/max/mean, "
                "the tensors a sequence holds and the files written");
  sub->add_flag("--reference", opts->reference,
                "Compute quantized models exactly as ONNX defines them (dequantize, then float), without the "
                "fast integer kernels (which also quantize a weight-only model's activations per row) and the "
                "float fusions");
  sub->final_callback([opts, &exit_code] { exit_code = run_run(*opts); });
}

}  // namespace ember::cli
