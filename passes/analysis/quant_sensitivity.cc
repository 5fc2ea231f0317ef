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

std::vector<PrecisionCandidate> quantization_candidates(const LayerWeight& layer, const float* w, const float* fisher,
                                                        const std::vector<CandidateSpec>& specs) {
  const std::vector<float> cw = to_canonical(layer, w);
  const std::vector<float> cf = to_canonical(layer, fisher);
  std::vector<PrecisionCandidate> out;
  for (const CandidateSpec& spec : specs) {
    quant::QuantFormat format;
    format.bits = spec.bits;
    format.symmetric = true;
    const int64_t group = spec.block > 0 ? spec.block : layer.cols;
    const quant::QuantizedMatrix q = quant::quantize_rtn(cw.data(), layer.rows, layer.cols, group, format, quant::ClipMode::kNone);
    const std::vector<float> dq = q.dequantize();
    double noise = 0;
    for (size_t i = 0; i < cw.size(); ++i) {
      const double d = static_cast<double>(dq[i]) - cw[i];
      noise += static_cast<double>(cf[i]) * d * d;
    }
    PrecisionCandidate c;
    c.precision = "int" + std::to_string(spec.bits);
    c.block = spec.block;
    c.noise = noise;
    c.predicted_loss_increase = 0.5 * noise;
    out.push_back(c);
  }
  return out;
}

}  // namespace ember::passes::analysis
