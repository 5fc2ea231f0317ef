#include "passes/analysis/quant_sensitivity.h"

#include "passes/quantize/quant_math.h"

namespace ember::passes::analysis {

const std::vector<CandidateSpec>& default_candidates() {
  static const std::vector<CandidateSpec> specs = {{8, 0}, {4, 32}, {4, 128}};
  return specs;
}

std::vector<float> to_canonical(const LayerWeight& layer, const float* stored) {
  std::vector<float> out(static_cast<size_t>(layer.rows * layer.cols));
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t c = 0; c < layer.cols; ++c) out[static_cast<size_t>(r * layer.cols + c)] = stored[layer.index(r, c)];
  return out;
}

std::vector<float> quantization_error(const LayerWeight& layer, const float* w, const CandidateSpec& spec) {
  const std::vector<float> cw = to_canonical(layer, w);
  quant::QuantFormat format;
  format.bits = spec.bits;
  format.symmetric = true;
  const int64_t group = spec.block > 0 ? spec.block : layer.cols;
  const std::vector<float> dq =
      quant::quantize_rtn(cw.data(), layer.rows, layer.cols, group, format, quant::ClipMode::kNone).dequantize();
  std::vector<float> dw(cw.size());
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t c = 0; c < layer.cols; ++c) {
      const size_t i = static_cast<size_t>(r * layer.cols + c);
      dw[static_cast<size_t>(layer.index(r, c))] = dq[i] - cw[i];
    }
  return dw;
}

}  // namespace ember::passes::analysis
