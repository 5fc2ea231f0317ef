#include "passes/quantize/weight_quant_options.h"

namespace ember::passes::quant {
namespace {

const char* kAllOps = "MatMul+Gemm+Conv+Gather";

Status bad(const std::string& message) { return invalid_input("quantize-weights: " + message); }

// "MatMul+Gemm" or "MatMul|Gemm" (',' separates options in pipeline text).
Result<std::set<std::string>> parse_op_list(const std::string& text, const std::string& option) {
  std::set<std::string> ops;
  std::string current;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '+' || text[i] == '|') {
      if (current == "MatMul" || current == "Gemm" || current == "Conv" || current == "Gather") ops.insert(current);
      else if (!current.empty()) return bad(option + ": '" + current + "' is not one of MatMul, Gemm, Conv, Gather");
      current.clear();
    } else {
      current += text[i];
    }
  }
  return ops;
}

}  // namespace

std::string WeightQuantOptions::method_name() const {
  return method == Method::kGptq ? "gptq" : method == Method::kAwq ? "awq" : "rtn";
}

std::vector<OptionSpec> weight_quant_option_specs() {
  return {
      {"bits", "int", "8", "Weight bits: 8 (int8) or 4 (int4, needs a block)"},
      {"block", "int", "0 (bits=8), 32 (bits=4)",
       "Weights per scale along the reduction axis: 0 = one scale per output channel, or 32, 64, 128"},
      {"sym", "bool", "true", "Symmetric signed codes without zero point; false: unsigned codes with a zero point"},
      {"method", "string", "rtn",
       "rtn (round to nearest), gptq (error feedback from calibration Hessians) or awq (activation-aware scaling); "
       "gptq and awq need calibration data"},
      {"format", "string", "qdq", "qdq (DequantizeLinear, standard ONNX) or ort (com.microsoft MatMulNBits for 4-bit MatMul/Gemm)"},
      {"exclude", "string", "", "ECMAScript regex searched in weight and node names; matches stay float (no ',' or '}')"},
      {"ops", "string", kAllOps, "Op types to cover, joined by '+' or '|'"},
      {"exclude-ops", "string", "", "Op types to leave in float, joined by '+' or '|' (removed from ops)"},
      {"clip", "string", "mse (bits=4), none (bits=8)",
       "mse: search a per-channel/block clipping of the range that minimises the squared error; none: min/max"},
      {"min-size", "int", "1024", "Weights with fewer elements stay float"},
      {"damp", "float", "0.01", "GPTQ: fraction of the mean Hessian diagonal added to the diagonal"},
      {"calib-rows", "int", "8192",
       "GPTQ/AWQ: about this many activation rows (tokens) per layer enter its statistics; calibration batches "
       "beyond what this needs are not run"},
      {"batch", "int", "0", "GPTQ/AWQ: calibration rows per inference (0 = as the set was opened; 1 for batch-1 exports)"},
  };
}

Result<WeightQuantOptions> parse_weight_quant_options(const PassOptions& options) {
  EMBER_TRY(options.check(weight_quant_option_specs()));
  WeightQuantOptions o;
  const int64_t bits = options.get_int("bits", 8);
  if (bits != 4 && bits != 8) return bad("bits must be 8 or 4, got " + std::to_string(bits));
  o.format.bits = static_cast<int>(bits);
  o.format.symmetric = options.get_bool("sym", true);
  const bool block_given = options.values().count("block") > 0;
  o.block = options.get_int("block", bits == 4 ? 32 : 0);
  if (o.block != 0 && o.block != 32 && o.block != 64 && o.block != 128)
    return bad("block must be 0, 32, 64 or 128, got " + std::to_string(o.block));
  if (bits == 4 && o.block == 0)
    return bad(std::string("int4 needs blocks (block=32, 64 or 128)") + (block_given ? ", got block=0" : ""));

  const std::string method = options.get_string("method", "rtn");
  if (method == "rtn") o.method = Method::kRtn;
  else if (method == "gptq") o.method = Method::kGptq;
  else if (method == "awq") o.method = Method::kAwq;
  else return bad("method must be rtn, gptq or awq, got '" + method + "'");

  const std::string format = options.get_string("format", "qdq");
  if (format != "qdq" && format != "ort") return bad("format must be qdq or ort, got '" + format + "'");
  o.ort = format == "ort";

  const std::string exclude = options.get_string("exclude", "");
  if (!exclude.empty()) {
    try {
      o.exclude.emplace(exclude, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return bad("exclude '" + exclude + "' is not a valid regex: " + e.what());
    }
  }

  EMBER_ASSIGN_OR_RETURN(o.ops, parse_op_list(options.get_string("ops", kAllOps), "ops"));
  EMBER_ASSIGN_OR_RETURN(const std::set<std::string> excluded, parse_op_list(options.get_string("exclude-ops", ""), "exclude-ops"));
  for (const auto& op : excluded) o.ops.erase(op);
  if (o.ops.empty()) return bad("ops and exclude-ops leave no op type to quantize");

  const std::string clip = options.get_string("clip", bits == 4 ? "mse" : "none");
  if (clip == "mse") o.clip = ClipMode::kMse;
  else if (clip == "none") o.clip = ClipMode::kNone;
  else return bad("clip must be mse or none, got '" + clip + "'");

  o.min_size = options.get_int("min-size", 1024);
  o.damp = options.get_float("damp", 0.01);
  if (!(o.damp >= 0 && o.damp < 1)) return bad("damp must be in [0, 1)");
  o.calib_rows = options.get_int("calib-rows", 8192);
  if (o.calib_rows <= 0) return bad("calib-rows must be positive");
  o.batch = options.get_int("batch", 0);
  if (o.batch < 0) return bad("batch must be >= 0");
  return o;
}

}  // namespace ember::passes::quant
