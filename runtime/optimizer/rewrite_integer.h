// Load-time rewrites that make quantized models run in integer arithmetic, applied by the
// interpreter to its own copy of a model (never saved). Each turns a pattern with constant
// weights into one op of domain ember.fused (runtime/fused/fused_ops.h):
//
//   onnxruntime dynamic INT8 (quantize_dynamic):
//     X -> DynamicQuantizeLinear -> (Xq, s, zp);  Mul(s, w_scale) -> ws
//     MatMulInteger(Xq, Wq, zp[, w_zp]) -> Cast(float) -> Mul(., ws) [-> Add(., bias)]
//       => Int8MatMul{act=tensor}(X, Wq, w_scale, w_zp, bias)        (same integers as before)
//   Ember's per-row symmetric dynamic INT8 (`ember quantize --activations dynamic --format ort`):
//     s = Max(ReduceMax(Abs(X), -1) / 127, tiny);  Xq = Cast<u8>(Round(X / s) + 128)
//     MatMulInteger(Xq, Wq u8, 128, w_zp) -> Cast(float) -> Mul(., s) -> Mul(., w_scale) [-> Add(., bias)]
//       => Int8MatMul{act=row_symmetric, min_scale=tiny}(X, Wq, w_scale, w_zp, bias)
//   any other MatMulInteger with a constant 2-D B and a scalar A zero point
//       => MatMulIntegerPacked (same inputs, exact int32)
//   QDQ weights: DequantizeLinear(Wq int8/uint8, per tensor or per output channel) -> MatMul,
//     or -> Gemm(transA = 0, constant C of N values) with alpha and beta folded in:
//       X is DequantizeLinear(DynamicQuantizeLinear(X0))  => Int8MatMul{act=tensor}(X0, ...)
//       X is DequantizeLinear(QuantizeLinear(X0, s, zp)) with the same constant s, zp
//                                                         => Int8MatMul{act=static}(X0, ...)
//       X is any float value                              => Int8MatMul{act=row}(X, ...)
//     (a weight-only model then quantizes its activations per row at run time). A 2-D
//     Transpose between the DequantizeLinear and the product (a tied LM head reading the
//     embedding table) is folded into trans_b.
//   QDQ INT4: DequantizeLinear(Wq int4/uint4 blocked along K, block a multiple of 32)
//     -> MatMul / Gemm                                     => Int4MatMul{layout=kn|nk}
//   com.microsoft MatMulNBits (4 bits, block a multiple of 32, no g_idx, constant B, scales
//     and uint8 zero points)                               => Int4MatMul{layout=nbits}
//
// Then Int8MatMuls (trans_b 0, alpha 1, dynamic activations) that read the same X with the
// same act become one Int8MatMulGroup, which quantizes X once (Q, K, V projections), and
// Int4MatMuls{layout=kn|nk} of one X with the same block_size and alpha one Int4MatMulGroup.
//
// Nodes of a pattern are removed only when nothing else reads their outputs; a pattern whose
// intermediate values are graph outputs or have other readers is left as it is. Rewrites
// whose fused kernel is missing from `registry` are skipped.
#pragma once
#include "ir/model.h"
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

struct IntegerRewriteStats {
  int int8_matmuls = 0;      // Int8MatMul nodes made
  int matmul_integers = 0;   // MatMulIntegerPacked nodes made
  int int4_matmuls = 0;      // Int4MatMul nodes made
  int int8_groups = 0;       // Int8MatMulGroup nodes made (of Int8MatMuls sharing X)
  int int4_groups = 0;       // Int4MatMulGroup nodes made (of Int4MatMuls sharing X)
  int gather_dequantizes = 0;  // GatherDequantize nodes made (quantized embedding tables)
  int nodes_removed = 0;     // nodes of the original graph dropped
};

Result<IntegerRewriteStats> rewrite_integer_kernels(ir::Model& model, const KernelRegistry& registry);

}  // namespace ember::runtime
