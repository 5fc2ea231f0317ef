// ONNX conformance: runs Debian's libonnx-testdata cases (node/, pytorch-converted/,
// pytorch-operator/, simple/) through the interpreter and compares with the expected outputs
// using the ONNX backend tests' tolerances (rtol 1e-3, atol 1e-7).
// A case runs when every op it uses has a kernel; every such case must pass unless it is in
// the exclusion list below, which gives a reason for each. Prints passed, failed and skipped
// counts and the op types that caused skips. Exit 1 on any failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "formats/onnx_load.h"
#include "formats/tensor_pb.h"
#include "formats/value_pb.h"
#include "runtime/interpreter.h"

namespace fs = std::filesystem;
using namespace ember;

namespace {

// Cases that cannot pass by design, with the reason.
const std::map<std::string, std::string> kExcluded = {
    {"test_bernoulli", "random output"},
    {"test_bernoulli_double", "random output"},
    {"test_bernoulli_seed", "random output; seeds are implementation-specific"},
    {"test_bernoulli_expanded", "random output (RandomUniformLike)"},
    {"test_bernoulli_double_expanded", "random output (RandomUniformLike)"},
    {"test_bernoulli_seed_expanded", "random output (RandomUniformLike); seeds are implementation-specific"},
    {"test_training_dropout", "training-mode Dropout draws a random mask; Ember runs inference"},
    {"test_training_dropout_default", "training-mode Dropout draws a random mask; Ember runs inference"},
    {"test_training_dropout_default_mask", "training-mode Dropout draws a random mask; Ember runs inference"},
    {"test_training_dropout_mask", "training-mode Dropout draws a random mask; Ember runs inference"},
    {"test_cast_FLOAT_to_BFLOAT16", "onnx 1.12's expected data truncates to bfloat16; Ember rounds to nearest even"},
    {"test_castlike_BFLOAT16_to_FLOAT", "the test data's 'like' input is [1] while the model declares [3, 4]"},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded", "the test data's 'like' input is [1] while the model declares [3, 4]"},
    {"test_castlike_FLOAT_to_BFLOAT16", "the test data's 'like' input is [1] while the model declares [3, 4]"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", "the test data's 'like' input is [1] while the model declares [3, 4]"},
};

// Ops left out of the interpreter, each with its reason; the summary prints them.
const std::map<std::string, std::string> kNotImplemented = {
    {"StringNormalizer", "string op (issue 17 leaves string ops out: no model Ember compresses carries text tensors)"},
    {"RegexFullMatch", "string op (opset 20)"},
    {"StringConcat", "string op (opset 20)"},
    {"StringSplit", "string op (opset 20)"},
    {"ImageDecoder", "decodes JPEG/PNG bytes: an image codec, outside a tensor runtime (opset 20)"},
    {"TfIdfVectorizer", "text featurizer over string or n-gram ids (string/ML preprocessing, left out with the string ops)"},
    {"ai.onnx.preview.training.Adagrad", "training-preview domain (optimizer step), not inference"},
    {"ai.onnx.preview.training.Adam", "training-preview domain (optimizer step), not inference"},
    {"ai.onnx.preview.training.Gradient", "training-preview domain, not inference"},
    {"ai.onnx.preview.training.Momentum", "training-preview domain (optimizer step), not inference"},
    {"(non-tensor test data)", "inputs or outputs stored as maps (the ai.onnx.ml types, outside the tensor runtime)"},
};

struct Totals {
  int passed = 0, failed = 0, skipped = 0, excluded = 0;
  std::map<std::string, int> skipped_ops;  // op -> cases skipped because of it
  std::vector<std::string> failures;
};

// onnx 1.12's test data stores bfloat16 tensors with data_type UINT16; the bits are bf16.
Tensor as_declared(const Tensor& t, DType declared) {
  if (t.dtype() == DType::kU16 && declared == DType::kBF16) {
    Tensor out = Tensor::zeros(DType::kBF16, t.shape());
    std::memcpy(out.raw_mutable(), t.raw(), t.nbytes());
    return out;
  }
  return t;
}

bool close_enough(const Tensor& got, const Tensor& want_stored, std::string& why) {
  const Tensor want = as_declared(want_stored, got.dtype());
  if (got.dtype() != want.dtype()) {
    why = "dtype " + std::string(dtype_name(got.dtype())) + " vs expected " + std::string(dtype_name(want.dtype()));
    return false;
  }
  if (got.shape() != want.shape()) {
    why = "shape " + shape_to_string(got.shape()) + " vs expected " + shape_to_string(want.shape());
    return false;
  }
  if (got.dtype() == DType::kString) return got.same_content(want) || (why = "strings differ", false);
  auto g = got.to_floats();
  auto w = want.to_floats();
  if (!g.ok() || !w.ok()) return got.same_content(want) || (why = "bytes differ", false);
  const bool exact = !traits(got.dtype()).is_float;
  for (size_t i = 0; i < g->size(); ++i) {
    const double a = (*g)[i], b = (*w)[i];
    if (std::isnan(a) && std::isnan(b)) continue;
    if (a == b) continue;
    if (exact || std::fabs(a - b) > 1e-7 + 1e-3 * std::fabs(b)) {
      why = "element " + std::to_string(i) + ": " + std::to_string(a) + " vs expected " + std::to_string(b);
      return false;
    }
  }
  return true;
}

// Values of any kind: tensors as close_enough, sequences element by element, optionals by
// presence and then their element.
bool values_close(const Value& got, const Value& want, std::string& why) {
  if (got.kind() != want.kind()) {
    why = "got a " + got.describe() + ", expected a " + want.describe();
    return false;
  }
  if (got.is_tensor()) return close_enough(got.tensor(), want.tensor(), why);
  if (got.is_optional()) {
    if (got.has_element() != want.has_element()) {
      why = "got a " + got.describe() + ", expected a " + want.describe();
      return false;
    }
    return !got.has_element() || values_close(got.element(), want.element(), why);
  }
  if (got.elements().size() != want.elements().size()) {
    why = "got a " + got.describe() + ", expected a " + want.describe();
    return false;
  }
  for (size_t i = 0; i < got.elements().size(); ++i)
    if (!close_enough(got.elements()[i], want.elements()[i], why)) {
      why = "sequence element " + std::to_string(i) + ": " + why;
      return false;
    }
  return true;
}

// A .pb input or output: an unsupported kind (a map) skips the case.
Result<Value> read_case_value(const fs::path& file, const ir::ValueInfo& declared) {
  auto v = formats::read_value_pb(file.string(), declared);
  if (!v.ok()) return v.status();
  if (v->is_tensor()) return Value(as_declared(v->tensor(), declared.elem_type));
  return v;
}

// Runs one test_data_set directory. Returns "" on pass, "skip" on non-tensor data Ember does
// not read, else a failure reason.
std::string run_data_set(runtime::Interpreter& interp, const fs::path& set, std::set<std::string>& missing_ops) {
  std::map<std::string, Value> feeds;
  const auto& inputs = interp.feed_inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const fs::path file = set / ("input_" + std::to_string(i) + ".pb");
    if (!fs::exists(file)) continue;  // omitted optional input
    auto v = read_case_value(file, *inputs[i]);
    if (!v.ok() && v.status().code() == StatusCode::kUnsupported) {
      missing_ops.insert("(non-tensor test data)");
      return "skip";
    }
    if (!v.ok()) return set.filename().string() + ": " + v.status().message();
    feeds[inputs[i]->name] = std::move(v).value();
  }
  auto outputs = interp.run_values(feeds);
  if (!outputs.ok()) return set.filename().string() + ": " + outputs.status().message();
  for (size_t i = 0; i < outputs->size(); ++i) {
    const fs::path file = set / ("output_" + std::to_string(i) + ".pb");
    if (!fs::exists(file)) continue;
    auto want = read_case_value(file, interp.model().graph.outputs[i]);
    if (!want.ok() && want.status().code() == StatusCode::kUnsupported) {
      missing_ops.insert("(non-tensor test data)");
      return "skip";
    }
    if (!want.ok()) return set.filename().string() + ": " + want.status().message();
    std::string why;
    if (!values_close((*outputs)[i], *want, why)) return set.filename().string() + " output " + std::to_string(i) + ": " + why;
  }
  return "";
}

// Runs one case directory. Returns "" on pass, "skip" on skip, else a failure reason.
std::string run_case(const fs::path& dir, std::set<std::string>& missing_ops) {
  auto model = formats::load_onnx((dir / "model.onnx").string());
  if (!model.ok()) return "load: " + model.status().message();
  ir::for_each_graph(model->graph, [&](ir::Graph& g) {  // subgraphs too (If/Loop/Scan bodies)
    for (const auto& node : g.nodes)
      if (!runtime::default_registry().find(node.op_type, node.domain, model->opset_version(node.domain)))
        missing_ops.insert(node.domain.empty() ? node.op_type : node.domain + "." + node.op_type);
  });
  if (!missing_ops.empty()) return "skip";
  runtime::InterpreterOptions options;
  options.threads = 1;
  auto interp = runtime::Interpreter::create(*model, options);
  if (!interp.ok()) return "create: " + interp.status().message();
  for (const auto& set : fs::directory_iterator(dir)) {
    if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    const std::string outcome = run_data_set(**interp, set.path(), missing_ops);
    if (!outcome.empty()) return outcome;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path root = argc > 1 ? argv[1] : "/usr/share/libonnx-testdata/data";
  const bool verbose = argc > 2 && std::string(argv[2]) == "-v";
  if (!fs::exists(root)) {
    std::printf("SKIP: %s is absent (Debian package libonnx-testdata)\n", root.c_str());
    return 77;
  }
  Totals totals;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    if (!fs::exists(root / suite)) continue;
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(root / suite))
      if (entry.is_directory()) cases.push_back(entry.path());
    std::sort(cases.begin(), cases.end());
    for (const auto& dir : cases) {
      const std::string name = dir.filename().string();
      if (kExcluded.count(name)) {
        ++totals.excluded;
        continue;
      }
      std::set<std::string> missing;
      const std::string outcome = run_case(dir, missing);
      if (outcome.empty()) {
        ++totals.passed;
        if (verbose) std::printf("pass %s/%s\n", suite, name.c_str());
      } else if (outcome == "skip") {
        ++totals.skipped;
        for (const auto& op : missing) ++totals.skipped_ops[op];
      } else {
        ++totals.failed;
        totals.failures.push_back(std::string(suite) + "/" + name + ": " + outcome);
      }
    }
  }
  for (const auto& f : totals.failures) std::printf("FAIL %s\n", f.c_str());
  std::printf("\nskipped op types (cases):");
  for (const auto& [op, n] : totals.skipped_ops) std::printf(" %s(%d)", op.c_str(), n);
  std::printf("\nwhy they are skipped:");
  for (const auto& [op, n] : totals.skipped_ops) {
    auto why = kNotImplemented.find(op);
    std::printf("\n  %s: %s", op.c_str(), why == kNotImplemented.end() ? "NOT LISTED (an op that should be implemented)" : why->second.c_str());
  }
  std::printf("\nexcluded by name:");
  for (const auto& [name, why] : kExcluded) std::printf(" %s (%s);", name.c_str(), why.c_str());
  std::printf("\nconformance: %d passed, %d failed, %d skipped, %d excluded\n", totals.passed, totals.failed,
              totals.skipped, totals.excluded);
  return totals.failed == 0 ? 0 : 1;
}
