// Latency measured with Ember's own kernels on this CPU, for the search's lookup table
// (latency_table.h) and for the end-to-end figure of the chosen model.
// Layers, in context:
//   before: the prepared FP32 model, the feeds of one inference, the layers and one action per
//           layer (all of one precision, typically);
//   after:  per layer, the median seconds of its segment inside a run of the whole model with
//           those actions applied (quantize-weights with RTN: GPTQ and AWQ give the same format,
//           so the same kernels), and the median seconds of the whole run.
//   A node's time is the time between the interpreter's report of the previous node's outputs
//   and of its own (the ValueObserver). A layer's segment is its reader nodes and every node
//   that runs after them until the next layer's: what a precision changes around a layer shows
//   there (an INT8 matmul absorbs the Split after it, and the attention then reads its parts
//   without copies: on kjv-gpt2 the Reshapes after the attention projection cost ~2 ms each in
//   FP32 and ~0 in INT8, which timing the reader nodes alone missed). Sum of the segments + the
//   nodes before the first layer = the whole run, so a uniform allocation predicts its measured
//   time; a mixed one adds segments measured in uniform runs. Medians are taken per segment
//   (and of the time outside them): on a busy machine a run is preempted somewhere almost every
//   time, which the median of whole runs keeps and the per-segment medians drop. Timed inside the model, a layer
//   sees the caches and weight streaming of the real run (a layer alone keeps its weight in
//   cache and ran 2-3x faster on kjv-gpt2). The interpreter runs as ember-rt does (fused float
//   patterns, integer kernels).
// A whole model: the median seconds of a few runs of its interpreter on the feeds.
// Each measurement runs once to warm up, then at least `min_runs` times and until
// `min_seconds` have passed, at most `max_runs` times or `max_seconds`.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

struct TimingBudget {
  int min_runs = 5, max_runs = 31;
  double min_seconds = 0.3, max_seconds = 2.0;
};

// Median seconds of `model` on `feeds` with `threads` worker threads (0 = all cores).
Result<double> time_model(const ir::Model& model, const std::map<std::string, Tensor>& feeds, int threads,
                          const TimingBudget& budget = {});

class LayerTimer {
 public:
  // Runs the FP32 model once on `feeds` to record every reader's inputs.
  static Result<std::unique_ptr<LayerTimer>> create(const ir::Model& prepared, const std::map<std::string, Tensor>& feeds,
                                                    const std::vector<SearchLayer>& layers, int threads);
  // What the time of `layers[i]` under `action` depends on: "avx2 t2 | Gemm(128x384,W384x1152,1152;transB=0) | int4-b32".
  std::string key(size_t i, const LayerAction& action) const;
  // The prefix every key of this machine and thread count shares.
  std::string machine() const;
  struct InContext {
    std::vector<double> layer_seconds;  // per layer: its segment's median time; 0 when never reached (folded)
    double whole_seconds = 0;           // median time of the whole run
    double outside_seconds = 0;         // median over runs of the time before the first layer's segment
  };
  Result<InContext> time_in_context(const std::vector<LayerAction>& actions, const TimingBudget& budget = {}) const;

  // The readers' other inputs as computed on the inference (for tests and the energy model).
  const std::map<std::string, Tensor>& values() const { return values_; }
  // The nodes that read layers[i].weight, in graph order.
  const std::vector<ir::Node>& readers(size_t i) const { return readers_[i]; }

 private:
  const ir::Model* prepared_ = nullptr;
  std::vector<SearchLayer> layers_;
  std::vector<std::vector<ir::Node>> readers_;
  std::map<std::string, Tensor> feeds_;
  std::map<std::string, Tensor> values_;  // every reader input and output that is not an initializer
  int threads_ = 0;
};

// "fp32", "int8", "int8-asym", "int4-b32", "int4-b64-asym": what the kernels see of an action.
std::string kernel_precision(const LayerAction& action);

}  // namespace ember::passes::search
