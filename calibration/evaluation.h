// Quality measurement with the protocols of the shared models' README:
//   lm:       data int64 [rows, seq+1]; feed row[:seq] as input_ids [1, seq]; score every
//             position against row[1:]; mean negative log-likelihood in bits per byte
//             (the vocabulary is bytes, so bits per token = bits per byte).
//   classify: data .npz whose keys are the model's input names plus "labels";
//             accuracy of argmax(logits) == label, run in batches.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "ir/status.h"
#include "runtime/interpreter.h"

namespace ember::calibration {

enum class EvalTask { kLanguageModel, kClassify };
Result<EvalTask> parse_eval_task(const std::string& name);  // "lm" | "classify"

struct EvalOptions {
  EvalTask task = EvalTask::kLanguageModel;
  int64_t limit = 0;   // rows to use; 0 = all
  int64_t batch = 32;  // classify only; the LM protocol feeds one row at a time
  std::function<void(int64_t done, int64_t total)> progress;
};

struct EvalResult {
  std::string metric;  // "bits_per_byte" or "accuracy"
  double value = 0;
  int64_t samples = 0;  // rows evaluated
  double seconds = 0;
};

Result<EvalResult> evaluate(runtime::Interpreter& interp, const std::string& data_path, const EvalOptions& options);

}  // namespace ember::calibration
