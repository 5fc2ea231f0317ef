// Load-time float fusions, applied by the interpreter to its own copy of a model when
// InterpreterOptions::fuse_float is set (ember-rt, ember run and eval; never where a caller
// observes or fetches intermediate values), and the GELUs alone with fuse_gelu (the backward
// interpreter, which plans its gradients on the fused graph). Each saves whole passes over
// activations:
//
//   MatMul(X, W const f32 [K, N]) -> Add(., b const f32 [N], 1-D)
//       => MatMulBias(X, W, b)          the bias added in the packed GEMM's epilogue
//   GELU as exported from PyTorch (erf form), with x the only free value:
//     Div(x, sqrt 2) | Mul(x, 1/sqrt 2) -> Erf -> Add(., 1) -> Mul(x, .) -> Mul(., 0.5)
//     (or 0.5 applied to x first: Mul(Mul(x, 0.5), .))
//       => Gelu(x)                      one pass, vector_math.h's gelu_erf
//   GPT-2's tanh GELU (HF gelu_new):
//     Pow(x, 3) -> Mul(., 0.044715) -> Add(x, .) -> Mul(., sqrt(2/pi)) -> Tanh -> the same tail
//       => Gelu{approximate=tanh}(x)    one pass, vector_math.h's gelu_tanh
//
//   Transpose(A) / Transpose(B) -> MatMul [-> Transpose] (attention's head split and merge),
//     each Transpose of rank >= 3 read only by the MatMul, keeping a unit-stride axis last;
//     or MatMul -> Mul(., s) | Div(., d) by a scalar constant (attention's score scaling)
//       => PermutedMatMul(A, B){perm_a, perm_b, perm_y, alpha}  views read and written in place
//   Add(A, B) -> LayerNormalization (only its Y read)
//       => AddLayerNorm(A, B, scale, bias)   each row summed and normalised in cache; the sum
//                                            stays an output when something else reads it
//   Add(A, B) -> Softmax over the last axis (attention's mask)
//       => AddSoftmax(A, B)                  each row summed and normalised in cache
//   PermutedMatMul(Q, K) -> AddSoftmax(., mask) -> PermutedMatMul(., V), the last with no perm_a
//   and no alpha (after the two above)
//       => Attention(Q, K, V, mask)          a block of query rows at a time, skipping keys
//                                            the mask hides from the whole block
//   Int8MatMul (rewrite_integer.h) -> Gelu, the Gelu its sole reader
//       => Int8MatMul{activation=gelu|gelu_tanh}   applied in the GEMM's epilogue
//
//   Int8MatMul -> Reshape -> Split of the last axis (GPT-2's Q, K, V)
//       => Int8MatMul with one output per part   rewrite_column_split.h
//
// The fused ops have domain ember.fused. Intermediate values must have no other reader and
// not be graph outputs, or the pattern is left alone.
#pragma once
#include "ir/model.h"
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

struct FloatFusionStats {
  int matmul_bias = 0;  // MatMul + Add pairs fused
  int gelu = 0;         // erf GELU subgraphs fused
  int gelu_tanh = 0;    // tanh GELU subgraphs fused
  int gelu_epilogues = 0;  // Gelus merged into the Int8MatMul that produces their input
  int permuted_matmuls = 0;  // MatMuls that absorbed the Transposes around them
  int add_layer_norms = 0;   // residual Adds fused with the LayerNormalization after them
  int add_softmaxes = 0;     // attention masks added inside the Softmax after them
  int attentions = 0;        // scores, softmax and value products fused (counted in the above too)
  int column_splits = 0;     // Int8MatMuls writing the parts a Split took (rewrite_column_split.h)
};

// Which fusions to apply: all of them, or only the GELUs, for the backward interpreter's
// forward pass (the fused Gelu has a backward rule that reads only x, so no value a backward
// rule reads disappears, and the chain's seven temporaries are never written).
enum class FloatFusionScope { kAll, kGeluOnly };

Result<FloatFusionStats> fuse_float_patterns(ir::Model& model, const KernelRegistry& registry,
                                             FloatFusionScope scope = FloatFusionScope::kAll);

}  // namespace ember::runtime
