// A load-time rewrite applied with the float fusions (rewrite_float.h):
//   Y = Int8MatMul(X, ...) -> Reshape(Y, constant shape ending in N)
//     -> Split(last axis, k equal parts, every part read) -> Y_1..Y_k
//   => Y'_1..Y'_k = Int8MatMul(X, ...) with k outputs -> Y_i = Reshape(Y'_i, the shape ending in N / k)
// The GEMM's epilogue writes each block of columns into its own output (qgemm's f32_parts),
// the same numbers without the Split's copy: GPT-2's c_attn product becomes Q, K and V
// directly. Returns how many products were split.
#pragma once
#include "ir/model.h"

namespace ember::runtime {

int split_int8_product_columns(ir::Model& model);

}  // namespace ember::runtime
