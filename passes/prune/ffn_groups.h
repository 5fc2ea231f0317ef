// FFN neuron groups that structured pruning can remove, proven safe on the graph.
//   x -> MatMul/Gemm(W1 [K, N], b1) -> h -> elementwise ops (ReLU, GELU's Erf/Tanh forms,
//        SiLU = x * Sigmoid(x), scalar constants; Reshapes to a constant shape ending in N, which
//        only regroup the leading axes) -> a -> MatMul/Gemm(W2 [N, M]) -> y
// Neuron n is column n of W1, b1[n], every per-channel constant [N] on the path, and row n of
// W2. Removing it removes exactly the terms W2[n, :] * a_n of y and nothing else, because every
// op between the layers works channel by channel. A group is safe when W1, b1 and W2 are read
// only by their layer, every value on the path is read only by path ops or the consumer (no
// graph output, no other reader), and every other input of a path op is a scalar
// or per-channel [N] constant. Layers the layer model marks kFfnNeuron that fail this are
// reported with the reason, never pruned.
// Gated FFNs (SwiGLU, GeGLU): first layers that reach the same consumer (gate and up
// projections) are traced together from all their outputs, so that the Mul joining them is a
// path op whose inputs are both path values:
//   x -> Wg [K, N] -> SiLU (x*Sigmoid(x), Silu) or GELU -> g;  x -> Wu [K, N] -> u;  g * u -> Wd [N, M]
// Neuron n is column n of Wg and of Wu (and their biases) and row n of Wd, removed together:
// every op between them works channel by channel, so dropping the three removes exactly the
// term Wd[n, :] * a_n. `first` is the earliest of them in graph order, `parallel` the others.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "passes/analysis/layer_model.h"

namespace ember::passes::prune {

struct FfnGroup {
  analysis::Layer first;   // its output channels are the neurons
  analysis::Layer second;  // its reduction (input rows) are the neurons
  std::vector<analysis::Layer> parallel;  // a gated FFN's other first layers (up projection): same neurons
  int64_t neurons = 0;
  std::vector<std::string> per_channel;  // [N] constants on the path (b1 included) to shrink
  std::vector<std::string> values;       // values with N as their last dimension (value_info to update)
  std::vector<size_t> reshapes;          // Reshape nodes on the path: their shape's last entry becomes N'
  bool gated() const { return !parallel.empty(); }
  int64_t input_width() const;  // sum of the first layers' reductions (K, or 2K for a gated FFN)
};

struct SkippedGroup {
  std::string layer;   // the first layer's node
  std::string reason;
};

struct FfnGroups {
  std::vector<FfnGroup> groups;
  std::vector<SkippedGroup> skipped;
};

FfnGroups find_ffn_groups(const ir::Graph& graph, const analysis::LayerModel& layers);

}  // namespace ember::passes::prune
