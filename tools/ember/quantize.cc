// ember quantize MODEL [--calib SET] --weights int8|int4 ... -o OUT.onnx: one quantization
// recipe, spelled out, without the budgeted search of `ember compress`.
#include <climits>
#include <cstdint>
#include <cstdio>
#include <malloc.h>
#include <nlohmann/json.hpp>

#include "calibration/dataset.h"
#include "formats/atomic_file.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"
#include "passes/quantize/weight_quantizer.h"
#include "runtime/parallel.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct QuantizeOptions {
  std::string model, calib, output;
  std::string weights = "int8", activations = "none", method = "rtn", format = "qdq", calib_method = "percentile";
  std::string sequential = "fp32";
  int block = 0;
  bool asymmetric = false;
  double smoothquant = 0;
  std::string exclude, exclude_ops;
  int64_t calib_limit = 0, calib_batch = 1;
  int threads = 0;
  bool json = false;
  bool external_data = false;
};

passes::PipelineEntry entry(const std::string& name, std::map<std::string, std::string> options) {
  return {name, passes::PassOptions(name, std::move(options))};
}

std::vector<passes::PipelineEntry> build_pipeline(const QuantizeOptions& o) {
  std::vector<passes::PipelineEntry> p;
  // Weights held in Constant nodes become initializers, and an old opset is raised to what
  // the quantized operators need, before anything else.
  p.push_back(entry("constants-to-initializers", {}));
  p.push_back(entry("upgrade-opset", {{"version", "13"}}));
  if (o.smoothquant > 0) p.push_back(entry("smooth-quant", {{"alpha", std::to_string(o.smoothquant)}}));
  if (o.weights != "none") {
    std::map<std::string, std::string> w = {{"bits", o.weights == "int4" ? "4" : "8"}, {"method", o.method}, {"format", o.format},
                                            {"sym", o.asymmetric ? "false" : "true"}};
    if (o.block > 0 || o.weights == "int4") w["block"] = std::to_string(o.block > 0 ? o.block : 32);
    if (!o.exclude.empty()) w["exclude"] = o.exclude;
    if (!o.exclude_ops.empty()) w["exclude-ops"] = o.exclude_ops;
    if (o.method == "gptq") w["sequential"] = o.sequential;
    p.push_back(entry("quantize-weights", w));
  }
  if (o.activations != "none") {
    std::map<std::string, std::string> a = {{"mode", o.activations}, {"method", o.calib_method}, {"format", o.format}};
    if (!o.exclude.empty()) a["exclude"] = o.exclude;
    p.push_back(entry("quantize-activations", a));
  }
  p.push_back(entry("dce", {}));
  return p;
}

// A recipe that quantized nothing (no candidate layers, or every one filtered out) writes no
// model: the user is told why instead of receiving an unchanged copy.
Status check_something_quantized(const passes::PassManager& manager, const QuantizeOptions& o) {
  if (o.weights == "none") return Status::Ok();
  auto result = manager.last_result<passes::QuantizeWeightsResult>("quantize-weights");
  if (result && !result->tensors.empty()) return Status::Ok();
  std::string why = "the model has no MatMul, Gemm, Conv or Gather with a constant float weight";
  if (result && !result->skipped.empty())
    why = "every candidate was left in float, e.g. " + result->skipped[0].name + ": " + result->skipped[0].reason;
  return invalid_input("nothing to quantize: " + why);
}

int run_quantize(const QuantizeOptions& opts) {
  if (opts.weights == "int4" && opts.activations == "static")
    return report(invalid_input("--weights int4 with --activations static is not a supported combination; use int8 weights for W8A8"));
  auto manager = passes::PassManager::from_entries(build_pipeline(opts));
  if (!manager.ok()) return report(manager.status());
  // A bad output path fails now, not after the work.
  if (Status out = formats::check_output_path(opts.output); !out.ok()) return report(out);
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  apply_threads(opts.threads, "ember quantize");
#ifdef __GLIBC__
  // GPTQ allocates and frees each layer's Hessian, factor and weight copies: keeping freed heap
  // memory for the next layer (instead of unmapping it, then faulting fresh zeroed pages in)
  // halves the system time on the 1 B Llama (31 -> 14 s) for 3% more peak memory.
  if (opts.method == "gptq") {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
  }
#endif
  // A model that came with external data keeps that form (ember-rt then maps its weights).
  const bool source_external = !model->graph.external_locations.empty();
  std::optional<calibration::CalibrationSet> calib;
  if (!opts.calib.empty()) {
    calibration::CalibrationOptions co;
    co.limit = opts.calib_limit;
    co.batch = opts.calib_batch;
    auto set = calibration::CalibrationSet::open(opts.calib, model->graph.feed_inputs(), co);
    if (!set.ok()) return report(set.status());
    calib = std::move(*set);
  }
  passes::AnalysisManager analyses(calib ? &*calib : nullptr);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  formats::SaveOptions save;
  save.external_data = opts.external_data || source_external;
  auto writer = write_data_during_passes(opts.output, save, ctx);
  if (!writer.ok()) return report(writer.status());
  Status status = manager->run(*model, ctx);
  if (!status.ok()) return report(status);
  status = check_something_quantized(*manager, opts);
  if (!status.ok()) return report(status);
  status = formats::save_onnx(*model, opts.output, save);
  if (!status.ok()) return report(status);
  if (opts.json) {
    nlohmann::json j = {{"output", opts.output}, {"pipeline", manager->pipeline_text()}};
    for (const auto& r : manager->records())
      j["passes"].push_back(r.to_json(/*timing=*/true));
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("pipeline: %s\n", manager->pipeline_text().c_str());
    for (const auto& r : manager->records())
      std::printf("  %-26s %7.2f s  weights %s -> %s\n", r.name.c_str(), r.seconds, human_bytes(double(r.weight_bytes_before)).c_str(),
                  human_bytes(double(r.weight_bytes_after)).c_str());
    for (const auto& e : remarks.entries)  // the user is told when the model was changed beyond quantization
      if (e.pass == "upgrade-opset" || e.message.rfind("upgraded the default-domain opset", 0) == 0)
        std::printf("note: %s\n", e.message.c_str());
    std::printf("wrote %s\n", opts.output.c_str());
  }
  return kExitOk;
}

}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* sub = app.add_subcommand("quantize", "Quantize a model with one explicit recipe (weights, activations, method, format)");
  sub->add_option("model", o->model, "The FP32 ONNX model")->required();
  sub->add_option("--calib", o->calib, "Calibration set (.npy, .npz, or a directory); needed by gptq, awq, static activations and smoothquant");
  sub->add_option("--weights", o->weights, "Weight precision: int8 (per output channel unless --block), int4 (blocked), none")
      ->check(CLI::IsMember({"int8", "int4", "none"}))->default_val("int8");
  sub->add_option("--block", o->block, "Block size along the reduction axis: 32, 64 or 128 (int4 default 32; 0 = per channel)")->default_val(0)->check(CLI::IsMember({0, 32, 64, 128}));
  sub->add_flag("--asymmetric", o->asymmetric, "Asymmetric weights (with zero points) instead of symmetric");
  sub->add_option("--activations", o->activations, "none (weight-only), dynamic (quantized at run time per call), static (calibrated scales)")
      ->check(CLI::IsMember({"none", "dynamic", "static"}))->default_val("none");
  sub->add_option("--method", o->method, "Weight rounding: rtn (round to nearest), gptq (Hessian error compensation), awq (activation-aware scaling)")
      ->check(CLI::IsMember({"rtn", "gptq", "awq"}))->default_val("rtn");
  sub->add_option("--sequential", o->sequential,
                  "GPTQ's calibration: fp32 (one block of layers at a time fed with the float model's values: the "
                  "statistics of off in the memory of a few layers), quantized (each block fed with the quantized blocks' "
                  "outputs, the GPTQ paper's sequential mode), off (the whole float model at once)")
      ->check(CLI::IsMember({"fp32", "quantized", "off"}))->default_val("fp32");
  sub->add_option("--calib-method", o->calib_method, "Activation range method for static: minmax, percentile, entropy, mse")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}))->default_val("percentile");
  sub->add_option("--smoothquant", o->smoothquant, "SmoothQuant migration strength alpha in [0, 1] (0 = off, e.g. 0.5)")->default_val(0)->check(FiniteIn(0, 1));
  sub->add_option("--format", o->format, "qdq: standard QuantizeLinear/DequantizeLinear; ort: com.microsoft MatMulNBits, MatMulInteger")
      ->check(CLI::IsMember({"qdq", "ort"}))->default_val("qdq");
  sub->add_option("--exclude", o->exclude, "Leave layers whose node or weight name matches this regex in float");
  sub->add_option("--exclude-ops", o->exclude_ops, "Leave these op types in float, e.g. Gather+Conv");
  sub->add_option("--calib-limit", o->calib_limit, "Use only the first N calibration rows (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--calib-batch", o->calib_batch, "Calibration rows per inference (raise it for models that accept larger batches)")->default_val(1)->check(CountIn(1, 1 << 20));
  sub->add_option("--threads", o->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  sub->add_option("-o,--output", o->output, "Where to write the quantized model")->required();
  sub->add_flag("--external-data", o->external_data,
                "Write weights to OUTPUT.data beside the model (default when MODEL has external data; automatic above 2 GB)");
  sub->add_flag("--json", o->json, "Print per-pass statistics as JSON");
  sub->final_callback([o, &exit_code] { exit_code = run_quantize(*o); });
}

}  // namespace ember::cli
