// ember-rt run MODEL [--manifest M] --input name=FILE.npy ... [--output-dir DIR]
#include <cstdio>
#include <filesystem>

#include "formats/npy.h"
#include "tools/ember-rt/rt_commands.h"

namespace ember::rt {
namespace {

struct RunOptions {
  std::string model, manifest, output_dir;
  std::vector<std::string> inputs;
  int threads = 0;
};

int run(const RunOptions& o) {
  std::map<std::string, Tensor> feeds;
  for (const auto& spec : o.inputs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return report(invalid_input("--input '" + spec + "' is not name=FILE.npy"));
    auto t = formats::read_npy(spec.substr(eq + 1));
    if (!t.ok()) return report(t.status());
    feeds[spec.substr(0, eq)] = *t;
  }
  if (Status st = check_range("--threads", o.threads, 0, 4096); !st.ok()) return report(st);
  auto interp = open_model(o.model, o.manifest, o.threads);
  if (!interp.ok()) return report(interp.status());
  auto outputs = (*interp)->run(feeds);
  if (!outputs.ok()) return report(outputs.status());
  const auto names = (*interp)->interpreter().output_names();
  if (!o.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.output_dir, ec);
    if (ec) return report(invalid_input("cannot create " + o.output_dir + ": " + ec.message()));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    std::printf("%s %s %s\n", names[i].c_str(), std::string(dtype_name((*outputs)[i].dtype())).c_str(),
                shape_to_string((*outputs)[i].shape()).c_str());
    if (o.output_dir.empty()) continue;
    std::string file = names[i];
    for (char& c : file)
      if (c == '/' || c == ':' || c == '\\') c = '_';
    Status st = formats::write_npy((std::filesystem::path(o.output_dir) / (file + ".npy")).string(), (*outputs)[i]);
    if (!st.ok()) return report(st);
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once on inputs from .npy files");
  sub->add_option("model", o->model, "The ONNX model")->required();
  sub->add_option("--manifest", o->manifest, "The model's manifest.json; the model's sha256 must match it");
  sub->add_option("--input,-i", o->inputs, "An input as name=FILE.npy (repeat per input)");
  sub->add_option("--output-dir,-o", o->output_dir, "Write each output to DIR/<output name>.npy");
  sub->add_option("--threads", o->threads, "Worker threads (0 = the manifest's choice, else all cores)")->default_val(0);
  sub->final_callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace ember::rt
