// ember-rt run MODEL [--manifest M] --input name=FILE ... [--output-dir DIR] [--json]
// Inputs and outputs of any kind: tensors (.npy), sequences (.npz, .pb) and optionals (.pb);
// see tools/common/value_io.h.
#include <cstdio>
#include <filesystem>

#include "tools/common/value_io.h"
#include "tools/ember-rt/rt_commands.h"

namespace ember::rt {
namespace {

struct RunOptions {
  std::string model, manifest, output_dir, sequence_format = "npy";
  std::vector<std::string> inputs;
  int threads = 0;
  bool json = false;
};

int run(const RunOptions& o) {
  if (Status st = check_range("--threads", o.threads, 0, 4096); !st.ok()) return report(st);
  auto format = formats::parse_value_file_format(o.sequence_format);
  if (!format.ok()) return report(format.status().with_context("--sequence-format"));
  auto session = open_model(o.model, o.manifest, o.threads);
  if (!session.ok()) return report(session.status());
  auto feeds = cli::read_input_values(o.inputs, (*session)->interpreter().feed_inputs());
  if (!feeds.ok()) return report(feeds.status());
  auto outputs = (*session)->run_values(*feeds);
  if (!outputs.ok()) return report(outputs.status());
  const auto names = (*session)->interpreter().output_names();
  if (!o.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.output_dir, ec);
    if (ec) return report(invalid_input("cannot create " + o.output_dir + ": " + ec.message()));
  }
  nlohmann::json j = nlohmann::json::array();
  for (size_t i = 0; i < names.size(); ++i) {
    auto entry = cli::emit_output(names[i], (*outputs)[i], o.output_dir, *format);
    if (!entry.ok()) return report(entry.status());
    j.push_back(std::move(entry).value());
  }
  if (o.json) std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  else std::printf("%s", cli::outputs_text(j).c_str());
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once on inputs from .npy/.npz/.pb files");
  sub->add_option("model", o->model, "The ONNX model")->required();
  sub->add_option("--manifest", o->manifest, "The model's manifest.json; the model's sha256 must match it");
  sub->add_option("--input,-i", o->inputs, cli::kInputHelp);
  sub->add_option("--output-dir,-o", o->output_dir, "Write each output to DIR/<output name>.npy (sequences and optionals: see --sequence-format)");
  sub->add_option("--sequence-format", o->sequence_format, cli::kSequenceFormatHelp)
      ->default_val("npy")
      ->check(CLI::IsMember({"npy", "npz", "pb"}));
  sub->add_option("--threads", o->threads, "Worker threads (0 = the manifest's choice, else all cores)")->default_val(0);
  sub->add_flag("--json", o->json,
                "Print the outputs as JSON: per output its kind, dtype and shape (or type and length), min/max/mean, "
                "the tensors a sequence holds and the files written");
  sub->final_callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace ember::rt
