// Convolution output-channel groups that structured pruning can remove, proven safe on the graph.
//   Conv(W [C, Cin/g, k...], b) -> BatchNormalization, activations (Relu, Clip, Sigmoid,
//   x * Sigmoid(x), HardSwish...), per-channel or scalar constants (Add/Mul/...), pooling
//   (MaxPool, AveragePool, GlobalAveragePool...), depthwise Convs (group = C, W [C, 1, k...])
//   -> the next Conv's input channels (W [M, C, k...], group 1), or a Gemm/MatMul through a
//   Flatten (or a Reshape to [batch, C*H*W]) whose feature c*S + s is channel c's position s.
// A channel group is the set of values whose axis 1 carries the same C channels. It is traced
// both ways: forward through the ops above to its consumers, and backward from every operand
// of a join, so channels tied by a residual Add or a squeeze-excitation Mul (Conv -> ... ->
// Mul(x, scale)) are one group: every producer Conv whose output enters the group loses the same
// channels (one mask for the tied set), every consumer loses the same input channels. Removing
// channel c removes exactly the terms that channel c contributes to each consumer, because every
// op on the path works channel by channel.
// A Concat along axis 1 joins groups (channel_units.h): input i's channel c is the output's
// channel o_i + c, so the producers of every input and the consumers of the output form one
// group whose units are the classes of tied channels; an input Ember cannot trace (a graph
// input, a constant, an op not listed) keeps its channels (pinned), the others may still lose
// theirs. A Concat along another axis is a join like Add (every operand carries the channels).
// Resize/Upsample with constant scales of 1 on axes 0 and 1 are channel-wise.
// A group is never pruned when it reaches a graph output or input, a grouped (non-depthwise) Conv, an op not listed, a value of unknown
// shape or a non-constant operand without the channels, or when a weight or per-channel constant
// is read elsewhere; the reason names the node or value.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"
#include "passes/prune/ffn_groups.h"

namespace ember::passes::prune {

// A per-channel constant on the path: BN parameters, a [C, 1, 1] bias, a PRelu slope.
struct ChannelConstant {
  std::string name;
  int axis = 0;       // the axis of the stored tensor that carries the channels
  std::string value;  // a value whose channels it scales (its node's output)
};

struct ChannelConsumer {
  bool linear = false;     // false: a Conv (group 1); true: Gemm/MatMul after a Flatten/Reshape
  size_t node = 0;         // index of the consumer in graph.nodes
  std::string input;       // the value it reads (the flattened value for a linear consumer)
  std::string channels;    // the value carrying its input channels (before the Flatten for a linear consumer)
  std::string weight, bias;
  int64_t outputs = 0;     // M: its output channels
  int64_t spatial = 1;     // linear: features per channel (H*W); conv: kernel elements per channel
  bool rows_are_features = true;  // linear: weight stored [C*S, M] (MatMul, Gemm transB=0); else [M, C*S]
  size_t reshape = SIZE_MAX;      // linear: the Flatten/Reshape node
};

struct ChannelGroup {
  int64_t channels = 0;            // removable units (channel_units.h); without a Concat, the channels
  std::vector<size_t> producers;   // Convs (group 1) whose output channels are the group's
  std::vector<size_t> depthwise;   // depthwise Convs the channels pass through
  std::vector<ChannelConstant> constants;
  std::vector<ChannelConsumer> consumers;
  // Per value with the channels (and per Concat input kept whole), the unit of each channel
  // (-1: always kept). Producers' rows: their output's; depthwise: their input's.
  std::map<std::string, std::vector<int64_t>> units;
  std::vector<size_t> concats;     // Concat nodes along axis 1 joining the group's channels
  std::string remark;              // how Concats tie the channels, empty without one
  std::string name;                // the producers' names joined by '+'
};

// The units of `value`'s channels in `g` (empty when it carries none).
const std::vector<int64_t>& units_of(const ChannelGroup& g, const std::string& value);

struct ChannelGroups {
  std::vector<ChannelGroup> groups;    // in the order of their first producer
  std::vector<SkippedGroup> skipped;   // layer: the producers traced so far
};

// A node's name, or "Op#index" when it has none (exporters may leave names empty).
std::string node_label(const ir::Graph& graph, size_t index);

// A value's shape from a forward pass (nullopt when unknown).
using ValueShapes = std::function<std::optional<std::vector<int64_t>>(const std::string&)>;

ChannelGroups find_channel_groups(const ir::Graph& graph, const ValueShapes& shape_of);

// Shape lookup from one run of `model` on `feeds` (every value the interpreter produced).
Result<std::map<std::string, std::vector<int64_t>>> observe_shapes(const ir::Model& model,
                                                                   const std::map<std::string, Tensor>& feeds);

}  // namespace ember::passes::prune
