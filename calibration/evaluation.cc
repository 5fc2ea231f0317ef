#include "calibration/evaluation.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "formats/npy.h"
#include "formats/npz.h"

namespace ember::calibration {
namespace {

// Mean NLL in bits of row[1:] under logits [1, seq, vocab] from row[:seq].
double sequence_nll_bits(const Tensor& logits, const int64_t* targets, int64_t seq, double& count) {
  const int64_t vocab = logits.shape().back();
  const float* p = logits.data<float>();
  double total = 0;
  for (int64_t t = 0; t < seq; ++t) {
    const float* row = p + t * vocab;
    float max = row[0];
    for (int64_t v = 1; v < vocab; ++v) max = std::max(max, row[v]);
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max));
    const double log_prob = static_cast<double>(row[targets[t]] - max) - std::log(sum);
    total += -log_prob / std::log(2.0);
    count += 1;
  }
  return total;
}

Result<EvalResult> evaluate_lm(runtime::Interpreter& interp, const std::string& path, const EvalOptions& options) {
  EMBER_ASSIGN_OR_RETURN(Tensor data, formats::read_npy(path));
  if (data.rank() != 2 || data.dtype() != DType::kI64 || data.dim(1) < 2)
    return invalid_input(path + ": the lm protocol expects int64 [rows, seq+1], got " + std::string(dtype_name(data.dtype())) +
                         " " + shape_to_string(data.shape()));
  if (interp.feed_inputs().size() != 1)
    return invalid_input("the lm protocol expects a model with one input (input_ids), this one has " +
                         std::to_string(interp.feed_inputs().size()));
  const std::string input = interp.feed_inputs()[0]->name;
  const int64_t rows = options.limit > 0 ? std::min(options.limit, data.dim(0)) : data.dim(0);
  const int64_t width = data.dim(1), seq = width - 1;
  double bits = 0, count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = data.data<int64_t>() + r * width;
    for (int64_t t = 0; t < width; ++t)
      if (row[t] < 0 || row[t] > 255) return invalid_input(path + ": row " + std::to_string(r) + " holds a token outside 0..255");
    Tensor ids = Tensor::zeros(DType::kI64, {1, seq});
    std::memcpy(ids.raw_mutable(), row, static_cast<size_t>(seq) * 8);
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, interp.run({{input, ids}}));
    const Tensor& logits = outputs.at(0);
    if (logits.dtype() != DType::kF32 || logits.rank() != 3 || logits.dim(1) != seq || logits.dim(2) < 256)
      return invalid_input("the lm protocol expects float logits [1, " + std::to_string(seq) + ", 256], got " +
                           shape_to_string(logits.shape()));
    bits += sequence_nll_bits(logits, row + 1, seq, count);
    if (options.progress) options.progress(r + 1, rows);
  }
  EvalResult result;
  result.metric = "bits_per_byte";
  result.value = bits / count;
  result.samples = rows;
  return result;
}

Result<EvalResult> evaluate_classifier(runtime::Interpreter& interp, const std::string& path, const EvalOptions& options) {
  EMBER_ASSIGN_OR_RETURN(auto arrays, formats::read_npz(path));
  auto labels_it = arrays.find("labels");
  if (labels_it == arrays.end()) return invalid_input(path + ": the classify protocol needs a 'labels' array");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> labels, labels_it->second.to_int64s());
  const int64_t total = static_cast<int64_t>(labels.size());
  const int64_t rows = options.limit > 0 ? std::min(options.limit, total) : total;
  std::vector<std::pair<std::string, const Tensor*>> inputs;
  for (const auto* in : interp.feed_inputs()) {
    auto it = arrays.find(in->name);
    if (it == arrays.end()) return invalid_input(path + " has no array for the model input '" + in->name + "'");
    if (it->second.rank() < 1 || it->second.dim(0) != total)
      return invalid_input(path + ": array '" + in->name + "' has " + shape_to_string(it->second.shape()) + ", expected " +
                           std::to_string(total) + " rows like 'labels'");
    inputs.emplace_back(in->name, &it->second);
  }
  const int64_t batch = std::max<int64_t>(options.batch, 1);
  int64_t correct = 0;
  for (int64_t start = 0; start < rows; start += batch) {
    const int64_t n = std::min(batch, rows - start);
    std::map<std::string, Tensor> feeds;
    for (const auto& [name, array] : inputs) {
      Shape shape = array->shape();
      shape[0] = n;
      Tensor slice = Tensor::zeros(array->dtype(), shape);
      const size_t row_bytes = array->nbytes() / static_cast<size_t>(total);
      std::memcpy(slice.raw_mutable(), static_cast<const uint8_t*>(array->raw()) + static_cast<size_t>(start) * row_bytes,
                  static_cast<size_t>(n) * row_bytes);
      feeds[name] = slice;
    }
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, interp.run(feeds));
    const Tensor& logits = outputs.at(0);
    if (logits.rank() != 2 || logits.dim(0) != n) return invalid_input("the classify protocol expects logits [batch, classes], got " + shape_to_string(logits.shape()));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> values, logits.to_floats());
    const int64_t classes = logits.dim(1);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (values[static_cast<size_t>(i * classes + c)] > values[static_cast<size_t>(i * classes + best)]) best = c;
      correct += best == labels[static_cast<size_t>(start + i)];
    }
    if (options.progress) options.progress(start + n, rows);
  }
  EvalResult result;
  result.metric = "accuracy";
  result.value = rows ? static_cast<double>(correct) / static_cast<double>(rows) : 0;
  result.samples = rows;
  return result;
}

}  // namespace

Result<EvalTask> parse_eval_task(const std::string& name) {
  if (name == "lm") return EvalTask::kLanguageModel;
  if (name == "classify") return EvalTask::kClassify;
  return invalid_input("unknown task '" + name + "' (expected lm or classify)");
}

Result<EvalResult> evaluate(runtime::Interpreter& interp, const std::string& data_path, const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto result = options.task == EvalTask::kLanguageModel ? evaluate_lm(interp, data_path, options)
                                                         : evaluate_classifier(interp, data_path, options);
  if (!result.ok()) return result;
  // No rows would give 0/0 (a NaN metric that every budget comparison silently passes).
  if (result->samples == 0) return invalid_input(data_path + ": the evaluation set has no rows");
  result->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ember::calibration
