// Builds the fuzz targets' seed corpora from samples/:
//   fuzz_make_seeds SAMPLES_DIR OUT_DIR
// writes OUT_DIR/{onnx_load,plan,npy,npz,manifest,serve_request,recipe,report_html}/ and
// OUT_DIR/external/ (the directory the ONNX targets resolve external data against:
// $EMBER_FUZZ_BASE_DIR). Deterministic, so a fuzzing run can be repeated.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/npy.h"
#include "formats/npz.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "ir/builders.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

Status copy_sample(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  return ec ? invalid_input("cannot copy " + from.string() + ": " + ec.message()) : Status::Ok();
}

ir::ValueInfo float_value(const std::string& name, Shape dims) {
  ir::ValueInfo v;
  v.name = name;
  v.elem_type = DType::kF32;
  v.has_shape = true;
  for (int64_t d : dims) v.dims.push_back(ir::Dim{d, ""});
  return v;
}

// A model of the ops whose output sizes come from values (ConstantOfShape, Range, Expand,
// Tile): the mutations that turn them hostile are a few bytes away.
ir::Model shape_ops_model() {
  ir::Model m;
  m.ir_version = 8;
  m.opset_imports.push_back({"", 17});
  ir::Graph& g = m.graph;
  g.name = "shape_ops";
  g.set_initializer("dims", Tensor::from_vector<int64_t>({2}, {2, 3}));
  g.set_initializer("start", Tensor::scalar<float>(0.0f));
  g.set_initializer("limit", Tensor::scalar<float>(3.0f));
  g.set_initializer("delta", Tensor::scalar<float>(1.0f));
  g.set_initializer("reps", Tensor::from_vector<int64_t>({2}, {1, 2}));
  g.nodes.push_back(ir::make_node("ConstantOfShape", "fill", {"dims"}, {"zeros"}));
  g.nodes.push_back(ir::make_node("Range", "range", {"start", "limit", "delta"}, {"row"}));
  g.nodes.push_back(ir::make_node("Expand", "expand", {"row", "dims"}, {"grid"}));
  g.nodes.push_back(ir::make_node("Add", "add", {"grid", "zeros"}, {"sum"}));
  g.nodes.push_back(ir::make_node("Tile", "tile", {"sum", "reps"}, {"tiled"}));
  g.nodes.push_back(ir::make_node("Mul", "mul", {"tiled", "x"}, {"y"}));
  g.inputs.push_back(float_value("x", {2, 6}));
  g.outputs.push_back(float_value("y", {2, 6}));
  return m;
}

const char* kManifest = R"({
  "schema": "ember.manifest/1",
  "tool": {"name": "ember", "version": "0.1.0"},
  "model": {"file": "model.onnx", "sha256": "0000000000000000000000000000000000000000000000000000000000000000", "bytes": 1234},
  "pipeline": "quantize-weights{bits=8},dce",
  "calibration": {"source": "calib.npz", "hash": "abc", "rows": 16},
  "quality": {"metric": "accuracy", "before": 0.98, "after": 0.975, "budget": 0.01},
  "tensors": [{"name": "w", "precision": "int8", "scheme": "per-channel", "block": 0}],
  "op_counts": {"Conv": 2, "Gemm": 1},
  "runtime": {"ops": ["Conv", "Gemm"], "dtypes": ["f32", "i8"], "isa": "avx2"},
  "energy": {"joules_per_inference": 0.001, "source": "estimated"},
  "scheduler": {"threads": 2},
  "deployment": {"backend": "cpu", "threads": 2, "scheduler": {"policy": "priority", "max_batch": 4,
                 "queue_capacity": {"urgent": 8}}, "power": {"source": "estimate"}, "thermal": {"threshold_c": 70.5}}
}
)";

// serve_request inputs (fuzz/targets/serve_request.cc): a signature byte, the model name, the
// priority header ("-": none) and a KServe v2 body holding `tensor` as input `name`.
std::string infer_seed(char signature, const std::string& header, const std::string& name, const char* datatype,
                       const Tensor& tensor, const std::string& parameters) {
  nlohmann::json data = nlohmann::json::array();
  const auto values = tensor.to_floats();
  for (int64_t i = 0; values.ok() && i < tensor.numel(); ++i) {
    const float v = (*values)[size_t(i)];
    if (tensor.dtype() == DType::kF32) data.push_back(v);
    else data.push_back(int64_t(v));
  }
  nlohmann::json body = {{"id", "seed"}, {"inputs", {{{"name", name}, {"datatype", datatype}, {"shape", tensor.shape()}, {"data", data}}}}};
  if (!parameters.empty()) body["parameters"] = nlohmann::json::parse(parameters);
  return std::string(1, signature) + "digits\n" + header + "\n" + body.dump();
}

Status serve_request_seeds(const fs::path& samples, const fs::path& dir) {
  EMBER_ASSIGN_OR_RETURN(auto digits, formats::read_npz((samples / "digits-eval.npz").string()));
  const Tensor& images = digits.at("image");
  const Tensor image = Tensor::from_vector<float>({1, 1, 8, 8}, std::vector<float>(images.data<float>(), images.data<float>() + 64));
  EMBER_ASSIGN_OR_RETURN(Tensor windows, formats::read_npy((samples / "kjv-lm-eval.npy").string()));
  const int64_t n = std::min<int64_t>(windows.dim(1), 16);
  std::vector<float> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(float(windows.data<int64_t>()[i]));
  const Tensor tokens = Tensor::from_vector<float>({1, n}, ids);
  std::ofstream(dir / "digits") << infer_seed(0, "-", "image", "FP32", image, "");
  std::ofstream(dir / "digits-urgent") << infer_seed(0, "urgent", "image", "FP32", image, R"({"timeout_ms": 500})");
  std::ofstream(dir / "gpt2-low") << infer_seed(1, "-", "input_ids", "INT64", tokens, R"({"priority": "low"})");
  std::ofstream(dir / "bad-priority") << infer_seed(1, "asap", "input_ids", "INT64", tokens, "");
  std::ofstream(dir / "mixed") << std::string(1, 2) + "digits\nnormal\n" +
      R"({"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [0.5, -2]},)"
      R"( {"name": "n", "datatype": "INT32", "shape": [1], "data": [7]}, {"name": "b", "datatype": "INT8", "shape": [1], "data": [-3]},)"
      R"( {"name": "u", "datatype": "UINT8", "shape": [1, 1], "data": [255]}, {"name": "flag", "datatype": "BOOL", "shape": [], "data": [true]},)"
      R"( {"name": "f", "datatype": "FP32", "shape": [1, 1, 1], "data": [1e30]}]})";
  return Status::Ok();
}

// A manifest with the `search` section that report.html draws (passes/report/report_html.h).
const char* kSearchManifest = R"({"schema": "ember.manifest/1", "source_model": {"file": "m<b>.onnx", "bytes": 1000},
  "quality": {"metric": "accuracy", "fp32": 0.98, "compressed": 0.975, "limit": 0.97},
  "search": {"target": {"kind": "size", "value": 600, "achieved": 590},
             "budget": {"metric": "accuracy", "allowed": 0.01, "reference": 0.98, "limit": 0.97, "achieved": 0.975, "used_share": 0.5},
             "layers": [{"name": "fc1</title>", "weight": "w1", "op": "Gemm", "params": 100, "stage": "ffn", "action": "int8",
                         "bits_per_weight": 8.5, "pruned_ratio": 0, "sensitivity": {"int8": 1e-4, "int4-b32-rtn": 2e-3, "prune-0.5": -1},
                         "predicted_loss": 1e-4, "measured_loss": 2e-4},
                        {"name": "fc2", "op": "MatMul", "params": 300, "action": "int4-b32-rtn", "bits_per_weight": 4.5,
                         "sensitivity": {"int8": 1e-6, "int4-b32-rtn": 1e-5}}],
             "candidates": [{"name": "a", "model_bytes": 700, "quality": 0.978, "within_budget": true, "chosen": false, "pareto": true},
                            {"name": "b", "model_bytes": 590, "quality": 0.975, "within_budget": true, "chosen": true, "pareto": true},
                            {"name": "c", "model_bytes": 500, "quality": 0.9, "within_budget": false}],
             "stages": [{"name": "ffn", "candidates": ["a", "b"]}, {"name": "all", "candidates": 1}]}}
)";

Status make_seeds(const fs::path& samples, const fs::path& out) {
  for (const char* dir : {"onnx_load", "plan", "npy", "npz", "manifest", "serve_request", "recipe", "report_html", "external"})
    fs::create_directories(out / dir);
  // ONNX: the CNN sample inline, and with its weights as external data beside it.
  EMBER_TRY(copy_sample(samples / "digits-cnn.onnx", out / "onnx_load" / "digits-cnn.onnx"));
  EMBER_TRY(copy_sample(samples / "digits-cnn.onnx", out / "plan" / "digits-cnn.onnx"));
  EMBER_ASSIGN_OR_RETURN(ir::Model cnn, formats::load_onnx((samples / "digits-cnn.onnx").string()));
  formats::SaveOptions external;
  external.external_data = true;
  external.external_data_name = "weights.data";
  EMBER_TRY(formats::save_onnx(cnn, (out / "external" / "model.onnx").string(), external));
  EMBER_TRY(copy_sample(out / "external" / "model.onnx", out / "onnx_load" / "digits-cnn-external.onnx"));
  EMBER_TRY(copy_sample(out / "external" / "model.onnx", out / "plan" / "digits-cnn-external.onnx"));
  const ir::Model shapes = shape_ops_model();
  EMBER_TRY(formats::save_onnx(shapes, (out / "plan" / "shape-ops.onnx").string()));
  EMBER_TRY(formats::save_onnx(shapes, (out / "onnx_load" / "shape-ops.onnx").string()));
  // .npy: the LM evaluation windows, and each array of the digits calibration set.
  EMBER_TRY(copy_sample(samples / "kjv-lm-eval.npy", out / "npy" / "kjv-lm-eval.npy"));
  EMBER_ASSIGN_OR_RETURN(auto arrays, formats::read_npz((samples / "digits-calib.npz").string()));
  for (const auto& [name, tensor] : arrays) EMBER_TRY(formats::write_npy((out / "npy" / (name + ".npy")).string(), tensor));
  EMBER_TRY(formats::write_npy((out / "npy" / "bools.npy").string(), Tensor::from_vector<bool>({3}, {true, false, true})));
  EMBER_TRY(formats::write_npy((out / "npy" / "scalar.npy").string(), Tensor::scalar<double>(1.5)));
  // .npz: the calibration set, and a small archive of mixed types.
  EMBER_TRY(copy_sample(samples / "digits-calib.npz", out / "npz" / "digits-calib.npz"));
  std::map<std::string, Tensor> mixed = {{"ids", Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4})},
                                         {"mask", Tensor::from_vector<bool>({2}, {true, false})},
                                         {"x", Tensor::from_vector<float>({3}, {0.5f, -1.0f, 2.0f})}};
  EMBER_TRY(formats::write_npz((out / "npz" / "mixed.npz").string(), mixed));
  std::ofstream(out / "manifest" / "manifest.json") << kManifest;
  EMBER_TRY(serve_request_seeds(samples, out / "serve_request"));
  // report.html: the manifest above, and with a small search section.
  std::ofstream(out / "report_html" / "manifest.json") << kManifest;
  std::ofstream(out / "report_html" / "search.json") << kSearchManifest;
  // Recipes: every samples/recipe*.json, and a small one of each target kind.
  for (const auto& entry : fs::directory_iterator(samples))
    if (entry.path().filename().string().rfind("recipe", 0) == 0 && entry.path().extension() == ".json")
      EMBER_TRY(copy_sample(entry.path(), out / "recipe" / entry.path().filename()));
  std::ofstream(out / "recipe" / "size.json") << R"({"schema": "ember.recipe/1", "target": {"size": "3.5 MiB"}, "budget": {"metric": "kl", "allowed": 0.05}, "actions": [{"kind": "prune", "ratio": 0.25}, {"kind": "int4", "block": 64, "method": "awq"}], "exclude": [{"name": "^lm_head$", "op": "MatMul"}]})";
  std::ofstream(out / "recipe" / "energy.json") << R"({"schema": "ember.recipe/1", "target": {"energy": "5mJ"}, "quantize_activations": true, "calib": {"limit": 8, "holdout_rows": 4}})";
  std::ofstream(out / "recipe" / "latency.json") << R"({"schema": "ember.recipe/1", "target": {"latency": 0.02}, "overrides": [{"name": "h\.[0-9]+\.attn", "actions": [{"kind": "fp32"}]}]})";
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_make_seeds SAMPLES_DIR OUT_DIR\n");
    return 2;
  }
  Status status = make_seeds(argv[1], argv[2]);
  if (!status.ok()) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", status.message().c_str());
    return 2;
  }
  return 0;
}
