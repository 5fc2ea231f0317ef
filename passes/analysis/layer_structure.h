// The structure importance is reported in: which weights are linear or convolution layers
// (and in which layout their output channels lie), their biases, FFN neurons, and attention
// heads. Read from the graph plus the value shapes observed in one forward pass, so exports
// whose head split is computed at run time (Shape -> Concat -> Reshape) are understood too.
//   Linear layer: a weight read as B by Gemm, or as a 2-D B by MatMul, directly or through
//     Transpose/Identity (tied embeddings). Canonical layout: rows = output channels,
//     cols = reduction; the stored tensor is either that ([N, K]) or its transpose ([K, N]).
//   Conv layer: W [M, C/g, k...]: rows = M, cols = C/g * prod(k).
//   FFN neuron: an output channel of a linear layer whose output reaches another linear layer
//     through elementwise ops and reshapes only (the first layer of an FFN, or an MLP layer).
//   Attention head: a linear layer's output, followed through bias Adds, Reshapes and Splits
//     on the last axis, reaches a Reshape to [..., heads, head_dim]; head h is the columns
//     [offset + h*head_dim, offset + (h+1)*head_dim) of that layer. Projections that read the
//     same input (Q, K, V) form one attention block.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::passes::analysis {

enum class GroupKind { kNone, kOutputChannel, kFfnNeuron };
std::string group_kind_name(GroupKind kind);  // "output_channel", "ffn_neuron", "none"

struct LayerWeight {
  std::string weight;
  std::string op;        // "Gemm", "MatMul", "Conv"
  std::string node;      // the consuming node
  std::string input;     // the layer's activation input (A or X)
  std::string bias;      // bias initializer, empty when none was found
  int64_t rows = 0;      // output channels
  int64_t cols = 0;      // reduction length per channel
  bool column_major = false;  // stored [cols, rows] ([K, N]): channel r is column r
  GroupKind groups = GroupKind::kOutputChannel;
  // Flat index in the stored tensor of (channel r, reduction c).
  int64_t index(int64_t r, int64_t c) const { return column_major ? c * rows + r : r * cols + c; }
};

struct HeadSlice {
  std::string weight;  // a LayerWeight's weight
  int64_t offset = 0;  // first output channel of head 0
};

struct AttentionBlock {
  std::string input;  // the activation the projections read
  int64_t heads = 0;
  int64_t head_dim = 0;
  std::vector<HeadSlice> slices;  // Q, K, V (one slice each, or three of a fused QKV weight)
};

struct LayerStructure {
  std::map<std::string, LayerWeight> layers;  // by weight name
  std::vector<AttentionBlock> attention;
};

// `shape_of` returns a value's shape from a forward pass, or nullopt when unknown.
// `heads` > 0 overrides the number of heads read from the Reshapes.
using ShapeLookup = std::function<std::optional<std::vector<int64_t>>(const std::string&)>;
Result<LayerStructure> find_layer_structure(const ir::Graph& graph, const ShapeLookup& shape_of, int64_t heads = 0);

}  // namespace ember::passes::analysis
