// quantize-weights: weight-only quantization of MatMul, Gemm, Conv and Gather weights.
// Before: Gemm(x, W f32 [K, N], b)
// After (format=qdq):  W_quantized (int8 / INT4) -> DequantizeLinear{axis, block_size} -> Gemm(x, W_dequantized, b)
// After (format=ort, bits=4): MatMulNBits(x, W_nbits, W_scale, [zero points], bias=b)   (com.microsoft)
// Schemes: INT8 per output channel (bits=8, block=0) or blocks of 32/64/128 along the
// reduction axis (bits=4, or bits=8 with a block); symmetric (signed codes) or asymmetric
// (unsigned codes + zero point). Which weights and how they map to channels: weight_targets.h.
// Methods: rtn (round to nearest, with an optional MSE clipping search per channel/block),
// gptq (error feedback with per-layer Hessians of calibration inputs, gptq.h) and awq
// (activation-aware scaling folded into the producer, awq.h); gptq and awq need
// calibration data (PassContext::calib) and fall back to rtn, with a remark, for weights
// they cannot model (embeddings, Conv, layers whose input the run did not expose).
// format=ort turns MatMul/Gemm 4-bit weights into MatMulNBits; Gather, Conv, weights shared
// with them, and 8-bit weights stay QDQ. QDQ with blocks or INT4 raises the default opset to
// 21 (IR 10); per-channel INT8 needs opset 13.
// Where weights are: views of a weight (Identity, Cast to f32, Transpose) are folded first
// (weight_views.h); a main-graph weight read by exactly one If / Loop / Scan body moves into it,
// and every body's layers are quantized in place with rtn (subgraph_weights.h).
// Speed and memory (issue 19): plain rtn into QDQ goes from the stored layout straight to the
// emitted initializers (rtn_stored.h, same bytes as the canonical path); weights are handled one
// at a time and each source weight's pages, when it was mapped from external data, leave the
// process once it is replaced (formats::release_mapped_pages): peak memory is the output plus
// about one layer, not the whole source.
// Preconditions: none beyond a verified graph; weights that are graph inputs, read by two
// bodies, or read by anything else are left alone (remark "skipped").
// Analyses kept: the layer-inputs statistics (unless method=awq, which rescales activations).
// GPTQ reads the FP32 inputs' Hessians for every layer of one pass, so quantizing layer sets A
// and B in two passes (include=A, then include=B) gives the same weights as one pass over both;
// a search writes one pass per chosen precision and relies on this.
// Result: QuantizeWeightsResult (every quantized weight and every skipped one, with why).
// Remarks: one note per weight, notes on skipped weights and AWQ/GPTQ decisions, and counters weights-quantized, weights-skipped,
// bytes-before, bytes-after, matmul-nbits, dequantize-nodes, calibration-seconds,
// quantize-seconds.
#pragma once
#include <string>
#include <vector>

#include "passes/pass.h"

namespace ember::passes {

// One quantized weight, for manifests and reports.
struct QuantizedTensorRecord {
  std::string name;    // the original initializer name
  std::string op;      // the op types reading it, "Gemm" or "Gather+MatMul"
  std::string scheme;  // "int4 b32 sym gptq", "int8 per-channel sym rtn"
  int bits = 8;
  int64_t block = 0;   // 0 = per output channel
  bool symmetric = true;
  std::string method;  // rtn | gptq | awq (what was applied to this weight)
  std::string format;  // qdq | matmul-nbits
  size_t bytes_before = 0, bytes_after = 0;
  double error = 0;          // ||W - Wq|| / ||W||
  double output_error = -1;  // relative squared output error on calibration inputs; -1 when unknown
};

// The typed record of a quantize-weights run.
struct QuantizeWeightsResult final : PassResult {
  struct Skipped {
    std::string name, reason;
  };
  std::vector<QuantizedTensorRecord> tensors;  // what was quantized, in graph order
  std::vector<Skipped> skipped;                // weights it could have covered that stay float, and why
  nlohmann::json to_json() const override;
};

class WeightQuantization final : public Pass {
 public:
  explicit WeightQuantization(const PassOptions& options) : options_(options) {}
  static std::vector<OptionSpec> option_specs();
  std::string_view name() const override { return "quantize-weights"; }
  Status run(ir::Model& model, PassContext& ctx) override;
  PreservedAnalyses preserved() const override;
  std::shared_ptr<const PassResult> result() const override { return result_; }
  // The weights the last run quantized, in graph order.
  const std::vector<QuantizedTensorRecord>& records() const { return result_->tensors; }

 private:
  PassOptions options_;
  std::shared_ptr<QuantizeWeightsResult> result_ = std::make_shared<QuantizeWeightsResult>();
};

}  // namespace ember::passes
