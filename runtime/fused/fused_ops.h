// The ops of domain "ember.fused": what the load-time integer rewrites (rewrite_integer.h)
// turn quantized patterns into. They exist only inside the interpreter's copy of a model and
// are never saved. All take constant weights, packed once in prepare.
//
// Int8MatMul(X f32 [..., K], W int8|uint8 [K, N] (trans_b = 0) or [N, K] (trans_b = 1),
//            w_scale f32 scalar|[N], w_zero_point? scalar|[N], bias? [N],
//            x_scale? f32 scalar, x_zero_point? uint8|int8 scalar) -> Y f32 [..., N]
//   attrs: trans_b, alpha (times w_scale), act = "tensor" | "row" | "row_symmetric" | "static",
//   min_scale (row_symmetric), relu, activation = "gelu" | "gelu_tanh" (applied to Y in the
//   epilogue: rewrite_float.h merges a Gelu that is the product's sole reader)
//   X is quantized to uint8 per tensor (exactly as DynamicQuantizeLinear), per row, per row
//   symmetrically around 128 (scale max(max|x| / 127, min_scale)), or with the given static
//   x_scale / x_zero_point; then u8s8 GEMM with the fused epilogue
//   Y = float(acc) * (x_scale * alpha * w_scale[n]) + bias[n].
//   With k > 1 outputs (rewrite_column_split.h) output i holds Y's columns [i N / k, (i + 1) N / k).
// Int8MatMulGroup(X, then W, w_scale, w_zero_point?, bias? per output) -> Y1, Y2, ...: the
//   Int8MatMuls (trans_b 0, alpha 1, no activation) of one X, which is quantized once; attrs
//   act (tensor | row | row_symmetric), min_scale.
// MatMulIntegerPacked(A uint8|int8 [..., K], B int8|uint8 [K, N], a_zero_point? scalar,
//            b_zero_point? scalar|[N]) -> Y int32: MatMulInteger with a constant 2-D B.
// Int4MatMul(X f32 [..., K], ...) -> Y f32 [..., N], attr layout:
//   "nbits": inputs of com.microsoft MatMulNBits (B uint8 [N, blocks, block/2], scales,
//            zero_points? uint8 packed, [g_idx absent], bias?), attrs K, N, block_size
//   "kn" / "nk": W int4|uint4 [K, N] / [N, K] blocked along K with block_size, scales of
//            the same layout, zero_point? like W, bias? [N]; attr alpha
//   Activations are quantized to int8 per block of 32 (runtime/int4).
// Int4MatMulGroup(X, then W, scale, zero_point?, bias? per output) -> Y1, Y2, ...: the
//   Int4MatMuls of one X with layout kn or nk and the same block_size and alpha (attrs layout,
//   block_size, alpha), whose activations are quantized once.
// MatMulBias(X f32 [..., K], W f32 [K, N] constant, bias f32 [N] constant) -> Y = X W + bias
//   (rewrite_float.h); the bias is added in the packed GEMM's epilogue.
// Gelu(X) -> X/2 (1 + erf(X / sqrt 2)), the erf GELU subgraph of PyTorch exports.
// AddSoftmax(A, B) -> Softmax(A + B) over the last axis (runtime/kernels/activation_softmax.cc).
// AddLayerNorm(A, B, scale, bias?) -> (Y = LayerNormalization(A + B), Sum = A + B when read)
//   attrs axis, epsilon (runtime/kernels/normalization.cc).
// PermutedMatMul(A f32, B f32) -> Transpose(alpha MatMul(Transpose(A, perm_a), Transpose(B, perm_b)), perm_y)
//   attrs perm_a, perm_b, perm_y (each absent: identity; perm_y keeps the last axis last), alpha; the
//   transposes read and written through strides (rewrite_float.h).
// Attention(Q f32, K f32, V f32, mask f32) ->
//     Transpose(Softmax(alpha Tq(Q) Tk(K) + mask) Tv(V), perm_y), T(x) = Transpose(x, perm_*)
//   attrs perm_q, perm_k, perm_v, perm_y (as PermutedMatMul's), alpha; mask broadcasts to the
//   scores; computed a block of query rows at a time, skipping keys the mask hides from the
//   whole block (runtime/fused/attention.cc).
// GatherDequantize(W int4|uint4|int8|uint8 [R, C], scale, zero_point?, indices int64|int32)
//   -> Gather(DequantizeLinear(W, scale, zero_point; axis, block_size), indices) on axis 0,
//   dequantizing only the gathered rows (runtime/fused/gather_dequantize.cc).
// ConvChannelsLast(X f32, W f32 constant [M, C/group, kernel...], B? [M]) -> Y f32: Conv
//   (attrs auto_pad, kernel_shape, strides, dilations, pads >= 0, group) with X and Y
//   channels-last ([N, spatial..., C]) when x_channels_last / y_channels_last are 1, else
//   [N, C, spatial...]; activation = "relu" applies ReLU in the epilogue, and pool_kernel_shape
//   (with MaxPool's other attributes, prefixed pool_) a MaxPool after it
//   (runtime/fused/conv_channels_last.cc, optimizer/rewrite_channels_last.h); lanes =
//   "channels" | "positions" forces the SIMD lanes (default: conv_lanes.h's cost model).
// MaxPoolChannelsLast(X f32 [N, spatial..., C]) -> Y: MaxPool without Indices (its window
//   attrs), Y channels-last when y_channels_last is 1, else [N, C, out...].
#pragma once

namespace ember::runtime::fused {

inline constexpr char kDomain[] = "ember.fused";
inline constexpr char kInt8MatMul[] = "Int8MatMul";
inline constexpr char kInt8MatMulGroup[] = "Int8MatMulGroup";
inline constexpr char kMatMulIntegerPacked[] = "MatMulIntegerPacked";
inline constexpr char kInt4MatMul[] = "Int4MatMul";
inline constexpr char kInt4MatMulGroup[] = "Int4MatMulGroup";
inline constexpr char kMatMulBias[] = "MatMulBias";
inline constexpr char kGelu[] = "Gelu";
inline constexpr char kPermutedMatMul[] = "PermutedMatMul";
inline constexpr char kAddLayerNorm[] = "AddLayerNorm";
inline constexpr char kAddSoftmax[] = "AddSoftmax";
inline constexpr char kAttention[] = "Attention";
inline constexpr char kGatherDequantize[] = "GatherDequantize";
inline constexpr char kConvChannelsLast[] = "ConvChannelsLast";
inline constexpr char kMaxPoolChannelsLast[] = "MaxPoolChannelsLast";

}  // namespace ember::runtime::fused
