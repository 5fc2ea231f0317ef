// AWQ: activation-aware weight scaling (Lin et al., "AWQ: Activation-aware Weight Quantization
// for LLM Compression and Acceleration", 2023).
// Input channels that carry large activations matter more, so their weights are scaled up
// before quantization (finer relative steps) and the activation is scaled down to match:
//   y = x W^T = (x / s) (W diag(s))^T,   s_k = mean|x_k|^alpha  (normalised to a geometric mean of 1)
// alpha in [0, 1] is searched on a grid for the least output error of the quantized layers,
//   err(alpha) = sum_layers trace(D H D^T),  D = W - dequant(quant(W diag s)) diag(1/s),
// where H = X^T X over calibration inputs (alpha = 0 is plain RTN, so AWQ never does worse on
// the calibration data). Layers that read the same activation share s.
// The 1/s must be folded into whatever produces x, so inference costs nothing more:
//   LayerNormalization (last axis):   gamma /= s, beta /= s
//   a linear layer with constant weight (Gemm, MatMul, MatMul + Add bias): its output
//   channels and bias /= s
// possibly through Reshapes that keep the channel dimension. x must be read only by the
// scaled layers. When no such producer exists the layers are left unscaled.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"
#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

struct AwqLayer {
  const float* w = nullptr;  // canonical [rows, K]
  int64_t rows = 0;
};

struct AwqChoice {
  float alpha = 0;
  std::vector<float> scales;  // s, one per input channel
  double error = 0;           // relative output error with s
  double error_unscaled = 0;  // relative output error at alpha = 0 (plain RTN)
};

AwqChoice awq_search(const std::vector<AwqLayer>& layers, int64_t K, const std::vector<float>& mean_abs,
                     const std::vector<float>& hessian, int64_t group, QuantFormat f, ClipMode clip, int grid = 20);

// Where 1/s can be folded for the activation read by exactly the nodes `readers`.
struct FoldSite {
  enum class Kind { kLayerNorm, kLinear } kind = Kind::kLayerNorm;
  std::string scale_or_weight;  // LayerNorm gamma, or the producing layer's weight
  std::string bias;             // LayerNorm beta or the layer's bias; may be empty
  int out_axis = 0;             // kLinear: axis of the weight along which output channels lie
  std::string describe() const;
};
std::optional<FoldSite> find_fold_site(const ir::Graph& graph, const std::string& activation,
                                       const std::set<size_t>& readers, int64_t channels);
// Divides the site's per-channel parameters by s.
void apply_fold(ir::Graph& graph, const FoldSite& site, const std::vector<float>& s);

}  // namespace ember::passes::quant
