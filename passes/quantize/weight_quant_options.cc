#include "passes/quantize/weight_quant_options.h"

#include <algorithm>

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

namespace {

// The option values as given; the table fixes their types, defaults and help.
struct WeightOptionValues {
  int64_t bits = 8, block = -1, min_size = 1024, calib_rows = 8192, batch = 0, protect = 0;
  bool sym = true;
  std::string sequential = "off";
  std::string method = "rtn", format = "qdq", exclude, include, ops = kAllOps, exclude_ops, clip = "auto";
  double damp = 0.01, block_mb = 32;
};

const OptionTable<WeightOptionValues>& option_table() {
  using V = WeightOptionValues;
  static const OptionTable<V> table({
      {"bits", &V::bits, "Weight bits: 8 (int8) or 4 (int4, needs a block)"},
      {"block", &V::block, "Weights per scale along the reduction axis: 0 = one scale per output channel, or 32, 64, 128",
       "auto (0 for bits=8, 32 for bits=4)"},
      {"sym", &V::sym, "Symmetric signed codes without zero point; false: unsigned codes with a zero point"},
      {"method", &V::method,
       "rtn (round to nearest), gptq (error feedback from calibration Hessians) or awq (activation-aware scaling); "
       "gptq and awq need calibration data"},
      {"format", &V::format, "qdq (DequantizeLinear, standard ONNX) or ort (com.microsoft MatMulNBits for 4-bit MatMul/Gemm)"},
      {"exclude", &V::exclude, "ECMAScript regex searched in weight and node names; matches stay float (no ',' or '}')"},
      {"include", &V::include,
       "ECMAScript regex searched in weight and node names; when given, only matches are quantized (no ',' or '}'; "
       "ember compress writes one pass per chosen precision with the layers it chose)",
       "none (every weight)"},
      {"ops", &V::ops, "Op types to cover, joined by '+' or '|'"},
      {"exclude-ops", &V::exclude_ops, "Op types to leave in float, joined by '+' or '|' (removed from ops)"},
      {"clip", &V::clip, "mse: search a per-channel/block clipping of the range that minimises the squared error; none: min/max",
       "auto (mse for bits=4, none for bits=8)"},
      {"min-size", &V::min_size, "Weights with fewer elements stay float"},
      {"damp", &V::damp, "GPTQ: fraction of the mean Hessian diagonal added to the diagonal"},
      {"calib-rows", &V::calib_rows,
       "GPTQ/AWQ: about this many activation rows (tokens) per layer enter its statistics; calibration batches "
       "beyond what this needs are not run"},
      {"batch", &V::batch, "GPTQ/AWQ: calibration rows per inference (0 = as the set was opened; 1 for batch-1 exports)"},
      {"sequential", &V::sequential,
       "GPTQ: off (every layer input observed in one run of the float model, statistics kept for later passes), "
       "fp32 (one block of layers at a time, each fed with the float model's values: the same statistics in a "
       "few layers' memory) or quantized (each block fed with the outputs of the quantized blocks before it, "
       "the GPTQ paper's sequential mode)"},
      {"block-mb", &V::block_mb, "GPTQ with sequential=fp32|quantized: megabytes of float layer weights per block (a block holds at least one node)"},
      {"protect", &V::protect,
       "Keep the N layers that gradient importance predicts this precision damages most at more precision: INT8 "
       "per channel instead of INT4, float instead of INT8 (needs calibration data; reuses analyze-importance)"},
  });
  return table;
}

}  // namespace

std::vector<OptionSpec> weight_quant_option_specs() { return option_table().specs(); }

Result<WeightQuantOptions> parse_weight_quant_options(const PassOptions& options) {
  EMBER_ASSIGN_OR_RETURN(const WeightOptionValues v, option_table().parse(options));
  if (options.has("block") && v.block < 0) return bad("block must be 0, 32, 64 or 128, got " + std::to_string(v.block));
  WeightQuantOptions o;
  const int64_t bits = v.bits;
  if (bits != 4 && bits != 8) return bad("bits must be 8 or 4, got " + std::to_string(bits));
  o.format.bits = static_cast<int>(bits);
  o.format.symmetric = v.sym;
  o.block = v.block >= 0 ? v.block : bits == 4 ? 32 : 0;
  if (o.block != 0 && o.block != 32 && o.block != 64 && o.block != 128)
    return bad("block must be 0, 32, 64 or 128, got " + std::to_string(o.block));
  if (bits == 4 && o.block == 0)
    return bad(std::string("int4 needs blocks (block=32, 64 or 128)") + (v.block >= 0 ? ", got block=0" : ""));

  if (v.method == "rtn") o.method = Method::kRtn;
  else if (v.method == "gptq") o.method = Method::kGptq;
  else if (v.method == "awq") o.method = Method::kAwq;
  else return bad("method must be rtn, gptq or awq, got '" + v.method + "'");

  if (v.format != "qdq" && v.format != "ort") return bad("format must be qdq or ort, got '" + v.format + "'");
  o.ort = v.format == "ort";

  for (auto [text, name, target] : {std::tuple{&v.exclude, "exclude", &o.exclude}, std::tuple{&v.include, "include", &o.include}}) {
    if (text->empty()) continue;
    try {
      target->emplace(*text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return bad(std::string(name) + " '" + *text + "' is not a valid regex: " + e.what());
    }
  }

  EMBER_ASSIGN_OR_RETURN(o.ops, parse_op_list(v.ops, "ops"));
  EMBER_ASSIGN_OR_RETURN(const std::set<std::string> excluded, parse_op_list(v.exclude_ops, "exclude-ops"));
  for (const auto& op : excluded) o.ops.erase(op);
  if (o.ops.empty()) return bad("ops and exclude-ops leave no op type to quantize");

  const std::string clip = v.clip != "auto" ? v.clip : bits == 4 ? "mse" : "none";
  if (clip == "mse") o.clip = ClipMode::kMse;
  else if (clip == "none") o.clip = ClipMode::kNone;
  else return bad("clip must be mse or none, got '" + clip + "'");

  o.min_size = v.min_size;
  o.damp = v.damp;
  if (!(o.damp >= 0 && o.damp < 1)) return bad("damp must be in [0, 1)");
  o.calib_rows = v.calib_rows;
  if (o.calib_rows <= 0) return bad("calib-rows must be positive");
  o.batch = v.batch;
  if (o.batch < 0) return bad("batch must be >= 0");
  if (v.sequential == "off") o.sequential = Sequential::kOff;
  else if (v.sequential == "fp32") o.sequential = Sequential::kFp32;
  else if (v.sequential == "quantized") o.sequential = Sequential::kQuantized;
  else return bad("sequential must be off, fp32 or quantized, got '" + v.sequential + "'");
  if (!(v.block_mb > 0 && v.block_mb <= 1 << 20)) return bad("block-mb must be in (0, 1048576]");
  o.block_bytes = std::max<int64_t>(1, static_cast<int64_t>(v.block_mb * double(1 << 20)));
  o.protect = v.protect;
  if (o.protect < 0) return bad("protect must be >= 0");
  return o;
}

}  // namespace ember::passes::quant
