// Dynamic INT8 in the ORT-contrib form (what onnxruntime's quantize_dynamic emits), for
// MatMul(X, W) and Gemm(X, W, C) with a constant weight.
//
// Per tensor (granularity=tensor):
//   X -> DynamicQuantizeLinear -> (Xq u8, x_scale, x_zp)
//   MatMulInteger(Xq, Wq[K,N], x_zp[, w_zp]) -> Cast(float) -> Mul(x_scale * w_scale) [-> Add(bias)]
// Per row / token (granularity=row, the default), symmetric with one scale per row of X:
//   s = max(ReduceMax(|X|, last axis) / 127, tiny);  Xq = Cast<u8>(Round(X / s) + 128)
//   MatMulInteger(Xq, Wq + 128 [u8], 128, 128) -> Cast(float) -> Mul(s) -> Mul(w_scale) [-> Add(bias)]
// MatMulInteger takes one A zero point per tensor in onnxruntime, so per-row scales need the
// symmetric form, written as u8 around a shared zero point 128; the int8 weights (with zero
// zero points, else the node uses the per-tensor form) are stored as u8 around 128 too.
// Why u8 x u8: onnxruntime's u8 x s8 kernel saturates 16-bit pair sums on this machine
// (3 of 295K outputs of a GPT-2 layer off by up to 3.5K) and its s8 x s8 kernel is 3.7x
// slower; u8 x u8 is exact and as fast as u8 x s8. Ember's integer GEMM reduces every
// combination to u8 x s8 when it packs the weights, so the stored form costs it nothing.
// (The per-tensor form keeps int8 weights, as onnxruntime's own quantize_dynamic does, and
// shares that saturation when onnxruntime runs it.)
//
// The weight comes from quantize-weights (DequantizeLinear(Wq, scale[, zp]) with scales per
// tensor or per output column), or is a float initializer that is quantized here to int8,
// symmetric, per output column. Gemm: transA = 0; transB = 1 weights are transposed offline
// to [K, N]; alpha folds into the weight scales and beta into a constant C.
// Each X is quantized once for all the linears that read it.
#pragma once
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/quantize/activation_rewrite.h"
#include "passes/quantize/activation_targets.h"

namespace ember::passes::act_quant {

class OrtDynamicRewriter {
 public:
  OrtDynamicRewriter(ir::Model& model, GraphEdits& edits, NameMaker& names, bool per_row)
      : model_(model), edits_(edits), names_(names), per_row_(per_row) {}

  // Plans the rewrite of target `t` into edits; false (nothing planned) when the node does
  // not have a supported form, so the caller can fall back to QDQ.
  Result<bool> rewrite(const Target& t);

  // Nodes (first output names) and initializers the rewrites may have left unread.
  const std::set<std::string>& maybe_unread_nodes() const { return maybe_unread_nodes_; }
  const std::set<std::string>& maybe_unread_initializers() const { return maybe_unread_inits_; }
  int rows_quantized() const { return row_nodes_; }

 private:
  struct IntWeight {
    std::string data;        // initializer [K, N], i8 or u8
    std::string zero_point;  // empty when every zero point is 0
    std::vector<float> scales;  // 1 or N
    DType dtype = DType::kI8;
  };
  struct QuantizedX {
    std::string q, scale, zero_point;
  };
  Result<bool> prepare_weight(const ir::Node& node, IntWeight& out);
  std::string constant(const std::string& base, Tensor value);
  const QuantizedX& quantize_per_tensor(const std::string& x, size_t before);
  const QuantizedX& quantize_per_row(const std::string& x, size_t before);
  const std::string& midpoint(bool as_float);  // the shared 128 (u8 zero point, or float)
  const std::string& unsigned_weight(const std::string& data);  // int8 weight + 128 as u8

  ir::Model& model_;
  GraphEdits& edits_;
  NameMaker& names_;
  bool per_row_;
  std::map<std::string, QuantizedX> per_tensor_, per_row_x_;
  std::map<std::pair<std::string, bool>, IntWeight> weights_;  // (weight value, transposed): prepared once
  std::map<std::string, std::string> unsigned_weights_;
  std::string midpoint_u8_, midpoint_float_;
  std::set<std::string> maybe_unread_nodes_, maybe_unread_inits_;
  int row_nodes_ = 0;
};

}  // namespace ember::passes::act_quant
