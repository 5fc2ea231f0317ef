// The one description of a weight-bearing layer, shared by quantization, importance and
// pruning. A layer weight is an f32 initializer that some reader uses as a weight:
//   MatMul  input 1, 2-D [K, N]                 channels along axis 1 (N), reduction along K
//   MatMul  reading Transpose(W, perm [1, 0])   W is [N, K]: channels along axis 0 (tied LM heads)
//   Gemm    input 1 (B), 2-D: transB=1 [N, K]   channels along axis 0; transB=0 [K, N]: axis 1
//   Conv    input 1, [M, C/g, k...]             channels along axis 0, reduction = the rest
//   Gather  input 0, 2-D table [V, D], axis 0   one "channel" per row, blocks along D
// Identity nodes, Casts to f32 (and a 2-D Transpose, which flips the layout) between the
// weight and its reader are followed; quantize-weights folds such views before it scans
// (quantize/weight_views.h), and subgraph bodies are scanned as graphs of their own. The canonical matrix of a layer is [channels, reduction], row-major:
// quantization and scoring work on that view, and `index` maps it back to the stored tensor.
// The primary use is the first MatMul, Gemm or Conv reader; from it come the layer's
// activation input, bias and output, and its structural groups (layer_groups.cc):
//   FFN neuron: an output channel whose output reaches another linear layer through
//     elementwise ops and reshapes only (the first layer of an FFN, or an MLP layer).
//   Attention head: the output, followed through bias Adds, Reshapes and last-axis Splits or Slices,
//     reaches a Reshape to [..., heads, head_dim]; head h is the channels
//     [offset + h*head_dim, offset + (h+1)*head_dim). Projections reading one input form a block.
// `blocker` says why quantization cannot rewrite every reader of the weight (a reader of
// another kind, readers that disagree on the channel axis, a weight that is a graph input or
// output or is read inside a subgraph); analyses still score such a layer.
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

enum class UseKind { kMatMul, kMatMulTransposed, kGemm, kConv, kGather };
const char* use_op(UseKind kind);  // "MatMul", "Gemm", "Conv", "Gather"

struct WeightUse {
  UseKind kind = UseKind::kMatMul;
  size_t node = 0;            // index in graph.nodes of the MatMul / Gemm / Conv / Gather
  size_t transpose_node = 0;  // kMatMulTransposed: index of the Transpose node
  std::string activation;     // input of a linear use (MatMul/Gemm with transA=0), else empty
  bool linear() const { return !activation.empty(); }
};

enum class GroupKind { kNone, kOutputChannel, kFfnNeuron };
std::string group_kind_name(GroupKind kind);  // "output_channel", "ffn_neuron", "none"

struct Layer {
  std::string weight;
  Shape shape;
  std::vector<WeightUse> uses;  // every reader, in node order
  int channel_axis = 0;         // 0: stored [channels, reduction...]; 1: stored [reduction, channels]
  int64_t channels = 0, reduction = 0;
  // The primary use: the first MatMul / Gemm / Conv reader (empty `node` for a Gather-only table).
  std::string node, op;  // its name and op type
  std::string input;     // its activation input (A or X)
  std::string bias;      // its f32 bias [channels], or empty
  std::string output;    // the value carrying the layer's output (after a MatMul's bias Add)
  GroupKind groups = GroupKind::kNone;
  std::string ffn_consumer;  // kFfnNeuron: the weight of the layer the neurons reach
  std::string blocker;   // non-empty: why quantization leaves this weight alone
  // Non-empty for a layer inside an If/Loop/Scan body (body_layers.cc): "NODE/ATTRIBUTE" of the
  // body; its uses then index that body's nodes, not the main graph's.
  std::string body;

  bool column_major() const { return channel_axis == 1; }
  bool is_compute() const { return !node.empty(); }  // a MatMul, Gemm or Conv layer
  std::string op_types() const;                       // the readers' op types, "Gather+MatMul"
  bool all_uses_linear() const;                       // every use is a MatMul/Gemm with a known activation
  // Flat index in the stored tensor of (channel r, reduction c).
  int64_t index(int64_t r, int64_t c) const { return column_major() ? c * channels + r : r * reduction + c; }
};

struct HeadSlice {
  std::string weight;  // a Layer's weight
  int64_t offset = 0;  // first output channel of head 0
};

struct AttentionBlock {
  std::string input;  // the activation the projections read
  int64_t heads = 0;
  int64_t head_dim = 0;
  std::vector<HeadSlice> slices;  // Q, K, V (one slice each, or three of a fused QKV weight)
  std::string output;  // the output projection's weight (its rows [h*d, (h+1)*d) are head h), or empty
};

struct LayerModel {
  std::vector<Layer> layers;  // in initializer order
  std::vector<AttentionBlock> attention;
  const Layer* find(const std::string& weight) const;
};

// `shape_of` returns a value's shape from a forward pass, or nullopt when unknown; without it
// (or when shapes are unknown) no attention blocks are found. `heads` > 0 overrides the number
// of heads read from the Reshapes.
using ShapeLookup = std::function<std::optional<std::vector<int64_t>>(const std::string&)>;
Result<LayerModel> build_layer_model(const ir::Graph& graph, const ShapeLookup& shape_of = {}, int64_t heads = 0);

// The layers of every If/Loop/Scan body, nested ones too (body_layers.cc): a body's own f32
// initializers and the enclosing graphs' f32 initializers that only it reads. Layer::body set.
Result<std::vector<Layer>> build_body_layers(const ir::Graph& graph);
// build_layer_model's layers, then the bodies' (attention blocks: the main graph's only).
Result<LayerModel> build_layer_model_with_bodies(const ir::Graph& graph, const ShapeLookup& shape_of = {}, int64_t heads = 0);
// The initializer `name` of `graph` or of any of its bodies (a body layer's weight), or nullptr.
const Tensor* find_layer_weight(const ir::Graph& graph, const std::string& name);

// The layer's weight as its canonical [channels, reduction] matrix, and back.
std::vector<float> canonical_matrix(const Layer& layer, const float* stored);
std::vector<float> canonical_matrix(const Layer& layer, const Tensor& weight);
Tensor from_canonical(const Layer& layer, const std::vector<float>& canonical);

// Grouped-query attention: for each block, the index of the one key/value block of fewer heads
// reading the same input with the same head dimension (its heads dividing this block's), or -1
// (none, or a key/value block two query blocks could read).
std::vector<int> grouped_query_partners(const std::vector<AttentionBlock>& blocks);

// Finds FFN neurons and attention blocks (layer_groups.cc); build_layer_model calls it.
void find_layer_groups(const ir::Graph& graph, const ShapeLookup& shape_of, int64_t heads, LayerModel& model);

}  // namespace ember::passes::analysis
