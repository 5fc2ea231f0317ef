// Which float initializers weight quantization covers, and how each one is read.
// A target is an f32 initializer (not a graph input or output) every reader of which is a
// covered use:
//   MatMul  input 1, 2-D [K, N]                 channels along axis 1 (N), reduction along K
//   MatMul  reading Transpose(W, perm [1, 0])   W is [N, K]: channels along axis 0 (tied LM heads)
//   Gemm    input 1 (B), 2-D: transB=1 [N, K]   channels along axis 0; transB=0 [K, N]: axis 1
//   Conv    input 1, [M, C/g, k...]             channels along axis 0, reduction = the rest
//   Gather  input 0, 2-D table [V, D], axis 0   one "channel" per row, blocks along D
// Every use of a weight must agree on the channel axis, so one quantization serves them all
// (an embedding table and the LM head tied to it are both per-row).
// The canonical matrix of a target is [channels, reduction], row-major: quantization code
// works only on that layout and emission maps it back.
#pragma once
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"

namespace ember::passes::quant {

enum class UseKind { kMatMul, kMatMulTransposed, kGemm, kConv, kGather };

struct WeightUse {
  UseKind kind;
  size_t node = 0;            // index in graph.nodes of the MatMul / Gemm / Conv / Gather
  size_t transpose_node = 0;  // kMatMulTransposed: index of the Transpose node
  std::string activation;     // input of a linear use (MatMul/Gemm with transA=0), else empty
  bool linear() const { return !activation.empty(); }
};

struct WeightTarget {
  std::string name;
  Shape shape;
  int channel_axis = 0;  // 0: rows of the flattened weight are channels; 1: columns (2-D only)
  int64_t channels = 0, reduction = 0;
  std::vector<WeightUse> uses;
  std::string op() const;           // the op types of the uses, "Gather+MatMul"
  bool all_uses_linear() const;     // every use is a MatMul/Gemm with a known activation
};

struct TargetFilter {
  std::set<std::string> ops = {"MatMul", "Gemm", "Conv", "Gather"};
  std::optional<std::regex> exclude;  // searched in weight and reader node names
  int64_t min_size = 0;               // fewer elements: left in float
};

struct TargetScan {
  std::vector<WeightTarget> targets;
  std::vector<std::string> skipped;  // "weight: reason", for weights with a coverable use
};

TargetScan find_weight_targets(const ir::Graph& graph, const TargetFilter& filter);

// The target's weight as its canonical [channels, reduction] matrix.
std::vector<float> canonical_matrix(const WeightTarget& target, const Tensor& weight);
// The inverse: a tensor of the target's original shape from a canonical matrix.
Tensor from_canonical(const WeightTarget& target, const std::vector<float>& canonical);

}  // namespace ember::passes::quant
