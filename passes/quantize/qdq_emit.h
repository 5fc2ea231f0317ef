// Emission of quantized weights into the graph, in two formats.
// QDQ (standard ONNX):
//   W (f32 initializer)  ->  W_quantized (int8 / uint8 / INT4 / UINT4), W_scale (f32),
//                            [W_zero_point]  ->  DequantizeLinear{axis[, block_size]}  ->  W_dequantized
//   Per channel: scale [C] along the channel axis (opset 13). Blocked: scale has the rank of
//   W with the blocked axis' length ceil(K / block) (opset 21, which also brings INT4 = 22 and
//   UINT4 = 21, packed two per byte, low nibble first). A Conv weight [M, C/g, k...] blocked
//   along its flattened reduction dimension is stored 2-D [M, C/g*k...] and a Reshape
//   restores its shape after the DequantizeLinear (a single DQ axis cannot express blocks
//   that span channels and kernel positions).
// ORT-contrib: com.microsoft MatMulNBits (opset import com.microsoft 1) replaces MatMul/Gemm:
//   B uint8 [N, k_blocks, block/2] (4-bit, low nibble first, symmetric codes offset by 8, the
//   op's default zero point), scales f32 [N * k_blocks], optional zero_points uint8 packed
//   two blocks per byte per column. A Gemm's C becomes the bias input (index 5) when it is a
//   constant of N values, else an Add after the op.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/graph_edit.h"
#include "passes/quantize/quant_math.h"
#include "passes/quantize/weight_targets.h"

namespace ember::passes::quant {

// Node edits gathered while emitting and applied at once, so the node indices found by the
// target scan stay valid until the end.
struct GraphEdits {
  std::vector<ir::Node> prepend;                  // DequantizeLinear (+ Reshape) nodes, in order
  std::map<size_t, std::vector<ir::Node>> after;  // nodes to insert after node i
  std::set<size_t> removed;                       // nodes to drop
  std::set<std::string> reserved;                 // value names taken by pending nodes
  std::vector<std::string> added_initializers;    // in the order they were set
  // The graph's value and node names, built at the first emission and kept up to date by the
  // emitters until apply() (which adds nodes, so they are rebuilt after it). The emitters
  // must be the only ones to rename values of the graph in between.
  std::optional<UsedNames> used_values;
  std::optional<std::set<std::string>> node_names;
  void apply(ir::Graph& graph);
};

struct EmitResult {
  size_t bytes = 0;         // bytes of the initializers that now hold the weight
  int64_t min_opset = 13;   // default-domain opset the emitted nodes need
  bool matmul_nbits = false;
};

// The initializers of a QDQ weight in the stored layout: codes shaped like the weight ([C, K]
// for a blocked Conv), scales and zero points (same code type) shaped by qdq_param_shape.
struct QdqTensors {
  Tensor codes, scales, zero_points;  // zero_points undefined when symmetric
  int64_t group = 0;                  // columns per group, as QuantizedMatrix::group
  QuantFormat format;
};
QdqTensors qdq_tensors(const Layer& target, const QuantizedMatrix& q);
// [C] per channel; blocked: [C, G] when channels lead the stored weight, else [G, C].
Shape qdq_param_shape(const Layer& target, int64_t channels, int64_t groups, bool blocked);
// The 4- or 8-bit code type of a format (INT4/UINT4/INT8/UINT8).
DType code_dtype(QuantFormat f);

// Replaces target W by W_quantized -> DequantizeLinear (see above).
Result<EmitResult> emit_qdq(ir::Graph& graph, const Layer& target, const QuantizedMatrix& q, GraphEdits& edits);
// The same with the initializers already built (rtn_stored.h builds them without a QuantizedMatrix).
Result<EmitResult> emit_qdq_tensors(ir::Graph& graph, const Layer& target, QdqTensors tensors, GraphEdits& edits);

// Empty when MatMulNBits can carry the target with this block size, else why not.
std::string matmul_nbits_blocker(const ir::Graph& graph, const Layer& target, const QuantizedMatrix& q,
                                 int64_t block);
// Turns every use of the target into MatMulNBits. Precondition: matmul_nbits_blocker is empty.
Result<EmitResult> emit_matmul_nbits(ir::Graph& graph, const Layer& target, const QuantizedMatrix& q,
                                     int64_t block, GraphEdits& edits);

// Raises the default-domain opset to `version` (no-op when already there). Ops whose attributes
// became inputs at opset 18 (Reduce* axes, Split num_outputs) are rewritten; models below opset
// 13 are refused. The IR version becomes at least 10 when INT4 types may appear (opset 21).
Status raise_default_opset(ir::Model& model, int64_t version);

}  // namespace ember::passes::quant
