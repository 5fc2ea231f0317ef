// quantize-activations: INT8 activations at the inputs of MatMul, Gemm and Conv (by default;
// `ops` widens or narrows this). LayerNorm, Softmax and residual paths stay float, because
// only the target nodes read the quantized copy; the original value keeps its other readers.
//
// mode=static, format=qdq (scales from calibration, ctx.calib):
//   Before: X -> MatMul(X, W)       After: X -> QuantizeLinear(s, zp) -> DequantizeLinear(s, zp) -> MatMul
//   One Q/DQ pair per activation value, shared by all its target readers. s and zp come from
//   the clip range of `method` (calibration/observer.h) on a u8 or s8 grid:
//   s = (hi - lo) / 255, zp = round(-lo / s) (u8) or round(-128 - lo / s) (s8).
// mode=dynamic, format=qdq (no calibration):
//   X -> DynamicQuantizeLinear -> (y, s, zp) -> DequantizeLinear(y, s, zp) -> MatMul   (u8, per tensor)
// mode=dynamic, format=ort: MatMulInteger with activations quantized per row (token,
//   granularity=row, the default) or per tensor (DynamicQuantizeLinear); see activation_ort.h.
//   MatMul/Gemm whose weight has another form (e.g. a tied embedding transposed into an LM
//   head) stay float; Conv, and attention MatMuls with act-act, get the dynamic QDQ form.
// If / Loop / Scan bodies: with mode=dynamic (either format) their targets get the dynamic
//   QDQ form; mode=static leaves them float (calibration observes main-graph values only).
// Weights are not touched: quantize-weights runs first and leaves DequantizeLinear(Wq) at
// the weight inputs (format=ort consumes that pattern; a float weight is quantized there).
// smoothquant=alpha (> 0) first runs SmoothQuant (smoothquant.h); it only rescales float
// weights, so with quantize-weights in the pipeline use the smooth-quant pass before it.
// The full static recipe: smooth-quant, quantize-weights{bits=8}, quantize-activations{mode=static}.
// Nodes whose name (or first output) matches `exclude` stay float; with `include`, only the nodes
// that match it are quantized (a per-layer search names its chosen layers so).
// Preconditions: opset >= 10 (static) or >= 11 (dynamic) in the default domain.
#pragma once
#include "passes/pass.h"

namespace ember::passes {

class QuantizeActivations final : public Pass {
 public:
  explicit QuantizeActivations(const PassOptions& options) : options_(options) {}
  static std::vector<OptionSpec> option_specs();
  std::string_view name() const override { return "quantize-activations"; }
  Status run(ir::Model& model, PassContext& ctx) override;

 private:
  PassOptions options_;
};

}  // namespace ember::passes
