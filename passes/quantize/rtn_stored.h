// Round to nearest straight from a weight's stored layout to its QDQ initializers (issue 19's
// fast weight quantization), for the common case: rtn without calibration weighting.
// Before: W f32, stored [C, K] (Gather tables, Gemm transB=1) or [K, C] (MatMul, Gemm transB=0)
// After:  qdq_emit.h's QdqTensors: codes in the stored layout (INT4/UINT4 two per byte), scales
//         and zero points in qdq_param_shape's layout; emit_qdq_tensors puts them in the graph.
// The math is quantize_rtn's, group by group: choose_params (min/max, or the MSE clipping
// search) on the group's values in reduction order, then code = quantize_value(w, 1/scale, zp).
// The bytes are the same as quantize_rtn on the canonical matrix followed by qdq_tensors
// (tested on real models); what is saved is the two whole-matrix transposes, the int32 codes
// of the whole matrix and the packing pass:
//   [C, K]: one row (channel) at a time, codes written straight into the stored bytes; with
//     AVX-512 and a symmetric format, tiles of 16 rows x one group transposed in registers.
//   [K, C] with the clipping search: tiles of one group of reduction rows x 16 channels are
//     transposed in cache into the contiguous groups choose_params reads (same values, same
//     order, so the same parameters), and the codes go back as nibble pairs or bytes.
//   [K, C] with min/max: the ranges of every column in a band of rows (exact in any order),
//     then each row quantized in place, all channels vectorised; INT8 per channel with
//     AVX-512: strips of 64 channels, range and codes while the strip is in the cache.
// The relative error ||W - dequant(Q)|| / ||W|| is summed in float per group and in double
// across groups (in a fixed order: deterministic for any thread count), not in double per
// element as measure() does: equal to its figure to about 1e-6 relative.
#pragma once
#include <string>

#include "passes/quantize/qdq_emit.h"
#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

struct StoredRtn {
  QdqTensors tensors;
  double error = 0;  // ||W - dequant(Q)|| / ||W||
};

// Empty when quantize_rtn_stored can quantize this target, else why not (the caller then
// takes the canonical path): a 2-D f32 weight whose shape matches the layer, and for 4 bits
// stored [K, C] an even C (neighbouring channels share a byte; rows must not).
std::string rtn_stored_blocker(const Layer& target, const Tensor& weight, QuantFormat f);

// Precondition: rtn_stored_blocker is empty. `group` 0 = per channel.
StoredRtn quantize_rtn_stored(const Layer& target, const Tensor& weight, int64_t group, QuantFormat f, ClipMode clip);

}  // namespace ember::passes::quant
