// Streams weight gradients into importance statistics (see importance.h for the math).
// Each gradient is consumed as soon as the backward pass completes it: the Fisher diagonal
// and the batch's signed sums of g*w (per tensor and per output channel, biases added to
// their layer's channels) are updated, and end_batch() turns the signed sums into the
// accumulated |.| of the Taylor scores, per tensor, channel and attention head.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "passes/analysis/importance.h"
#include "passes/analysis/layer_structure.h"

namespace ember::passes::analysis {

class ImportanceAccumulator {
 public:
  // `weights`: name -> value of every weight that can receive a gradient.
  ImportanceAccumulator(const std::map<std::string, Tensor>& weights, LayerStructure structure);

  // dL/dw of one batch; `fisher_scale` turns g^2 into a per-term Fisher estimate.
  Status add_gradient(const std::string& name, const Tensor& grad, double fisher_scale);
  void end_batch();

  // Final scores after `batches` batches, weights in the order given by `order`.
  std::vector<TensorImportance> tensors(const std::vector<std::string>& order) const;
  std::vector<HeadImportance> heads() const;
  const LayerStructure& structure() const { return structure_; }

 private:
  struct State {
    Tensor value;
    const LayerWeight* layer = nullptr;      // when the weight is a linear/conv layer
    std::vector<float> fisher;               // sum over batches of scale * g^2
    double batch_sum = 0;                    // this batch's sum g w
    double taylor_abs = 0;                   // sum over batches of |batch_sum|
    std::vector<double> batch_channel;       // this batch's per-channel sum g w (layers)
    std::vector<double> channel_abs;         // sum over batches of |batch_channel|
  };
  std::vector<double> channel_fisher(const State& st) const;  // 1/2 sum F w^2 per channel, bias included

  LayerStructure structure_;
  std::map<std::string, State> states_;
  std::map<std::string, std::string> bias_owner_;  // bias -> layer weight
  std::vector<std::vector<double>> head_abs_;       // per attention block, per head
  int64_t batches_ = 0;
  std::mutex mutex_;
};

}  // namespace ember::passes::analysis
