// ember run MODEL --input name=FILE.npy ... [--output-dir DIR]: one inference, outputs as .npy.
// A sequence output is written as one file per tensor (NAME.0.npy, NAME.1.npy, ...).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "formats/npy.h"
#include "runtime/interpreter.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir;
  int threads = 0;
  bool json = false;
  bool reference = false;
};

// Output names may hold '/' or ':'; file names must not.
std::string file_name_for(const std::string& value_name) {
  std::string s = value_name;
  for (char& c : s)
    if (c == '/' || c == ':' || c == '\\') c = '_';
  return s + ".npy";
}

Result<std::map<std::string, Tensor>> read_feeds(const std::vector<std::string>& specs) {
  std::map<std::string, Tensor> feeds;
  for (const auto& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_input("--input '" + spec + "' is not name=FILE.npy");
    EMBER_ASSIGN_OR_RETURN(Tensor t, formats::read_npy(spec.substr(eq + 1)));
    feeds[spec.substr(0, eq)] = std::move(t);
  }
  return feeds;
}

// The tensors an output value holds, each with the name it is printed and written under: a
// tensor as itself, a sequence's tensors as NAME.0, NAME.1, ..., an optional's element (an
// empty sequence or optional holds none, and is printed as such).
std::vector<std::pair<std::string, Tensor>> tensors_of(const std::string& name, const Value& value) {
  if (value.is_tensor()) return {{name, value.tensor()}};
  if (value.is_optional()) return value.has_element() ? tensors_of(name, value.element()) : std::vector<std::pair<std::string, Tensor>>{};
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < value.elements().size(); ++i) out.push_back({name + "." + std::to_string(i), value.elements()[i]});
  return out;
}

int run_run(const RunOptions& opts) {
  apply_threads(opts.threads, "ember run");
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  auto feeds = read_feeds(opts.inputs);
  if (!feeds.ok()) return report(feeds.status());
  runtime::InterpreterOptions io;
  io.threads = opts.threads;
  io.integer_kernels = !opts.reference;
  io.fuse_float = !opts.reference;
  auto interp = runtime::Interpreter::create(*model, io);
  if (!interp.ok()) return report(interp.status().with_context(opts.model));
  auto outputs = (*interp)->run_values(std::map<std::string, Value>(feeds->begin(), feeds->end()));
  if (!outputs.ok()) return report(outputs.status());
  const auto output_names = (*interp)->output_names();
  std::vector<std::pair<std::string, Tensor>> named;
  for (size_t i = 0; i < output_names.size(); ++i) {
    const Value& v = (*outputs)[i];
    if (!v.is_tensor()) std::fprintf(stderr, "%s: %s\n", output_names[i].c_str(), v.describe().c_str());
    for (auto& nt : tensors_of(output_names[i], v)) named.push_back(std::move(nt));
  }
  nlohmann::json j = nlohmann::json::array();
  OutputDirectory output_dir;  // removed again if no output could be written into it
  if (!opts.output_dir.empty())
    if (Status made = output_dir.create(opts.output_dir); !made.ok()) return report(made);
  for (const auto& [name, t] : named) {
    nlohmann::json entry = {{"name", name}, {"dtype", std::string(dtype_name(t.dtype()))}, {"shape", t.shape()}};
    if (auto values = t.to_floats(); values.ok() && !values->empty()) {
      double sum = 0, lo = INFINITY, hi = -INFINITY;
      for (float v : *values) sum += v, lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
      entry["min"] = lo;
      entry["max"] = hi;
      entry["mean"] = sum / static_cast<double>(values->size());
    }
    if (!opts.output_dir.empty()) {
      const std::string path = (std::filesystem::path(opts.output_dir) / file_name_for(name)).string();
      Status st = formats::write_npy(path, t);
      if (!st.ok()) return report(st);
      entry["file"] = path;
    }
    j.push_back(entry);
  }
  if (opts.json) {
    std::printf("%s\n", json_text(j).c_str());
  } else {
    for (const auto& e : j) {
      std::printf("%-24s %-5s %s", e["name"].get<std::string>().c_str(), e["dtype"].get<std::string>().c_str(),
                  shape_to_string(e["shape"].get<Shape>()).c_str());
      if (e.contains("mean")) std::printf("  min %.6g max %.6g mean %.6g", e["min"].get<double>(), e["max"].get<double>(), e["mean"].get<double>());
      if (e.contains("file")) std::printf("  -> %s", e["file"].get<std::string>().c_str());
      std::printf("\n");
    }
  }
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once on inputs from .npy files and write its outputs as .npy");
  sub->add_option("model", opts->model, "The ONNX model to run")->required();
  sub->add_option("--input,-i", opts->inputs, "An input as name=FILE.npy (repeat for each model input)");
  sub->add_option("--output-dir,-o", opts->output_dir,
                  "Write each output to DIR/<output name>.npy (a sequence output: one <output name>.<i>.npy per tensor)");
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  sub->add_flag("--json", opts->json, "Print the outputs' shapes and statistics as JSON");
  sub->add_flag("--reference", opts->reference,
                "Compute quantized models exactly as ONNX defines them (dequantize, then float), without the "
                "fast integer kernels (which also quantize a weight-only model's activations per row) and the "
                "float fusions");
  sub->final_callback([opts, &exit_code] { exit_code = run_run(*opts); });
}

}  // namespace ember::cli
