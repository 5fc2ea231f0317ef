// Options of quantize-weights, parsed and checked once.
#pragma once
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/pass.h"
#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

enum class Method { kRtn, kGptq, kAwq };
// Where GPTQ's layer inputs come from (block_stream.h): one run of the float model, or one
// block of layers at a time fed with the float model's values or with the quantized blocks'.
enum class Sequential { kOff, kFp32, kQuantized };

struct WeightQuantOptions {
  quant::QuantFormat format;  // bits and symmetry
  int64_t block = 0;          // 0 = per output channel
  Method method = Method::kRtn;
  bool ort = false;           // format=ort: MatMulNBits where possible
  std::optional<std::regex> exclude;
  std::optional<std::regex> include;  // only weights matching it (a search's per-layer choice)
  std::set<std::string> ops;
  quant::ClipMode clip = quant::ClipMode::kNone;
  int64_t min_size = 1024;
  double damp = 0.01;
  int64_t calib_rows = 8192;
  int64_t batch = 0;  // calibration rows per inference; 0 = as the set was opened
  Sequential sequential = Sequential::kOff;
  int64_t block_bytes = int64_t(32) << 20;  // layer weight bytes per block when sequential
  int64_t protect = 0;  // layers kept at more precision by importance (importance_protect.h)
  std::string method_name() const;
};

std::vector<OptionSpec> weight_quant_option_specs();
Result<WeightQuantOptions> parse_weight_quant_options(const PassOptions& options);

}  // namespace ember::passes::quant
