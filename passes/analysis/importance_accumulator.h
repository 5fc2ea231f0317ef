// Streams weight gradients into importance statistics (see importance.h for the math).
// Each gradient is consumed as soon as the backward pass completes it, in one pass over
// g and w: the batch's signed sums of g*w (per tensor and per output channel, biases added to
// their layer's channels), and the Fisher-weighted sums every score needs. Those are linear
// in F = E[g^2] and g_mean with coefficients fixed in advance (w^2, and dw = Q(w) - w of each
// candidate precision, rebuilt from its codes and scales), so no per-element accumulator is
// read or written: the pass costs little more than reading the gradient, w and 2 bytes of
// codes. A linear layer's gradient may come as its factors X^T dY (FactoredGrad): then each
// block of rows is a small GEMM on the thread that reduces it, and the gradient never leaves
// that core's caches. end_batch() turns the signed sums into the accumulated |.| of the Taylor
// scores, per tensor, channel and attention head.
#pragma once
#include <functional>
#include <map>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "passes/analysis/importance.h"
#include "runtime/grad/importance_rows.h"
#include "passes/analysis/layer_model.h"
#include "runtime/grad/grad_rule.h"

namespace ember::passes::analysis {

using runtime::grad::kMaxRowCandidates;
using runtime::grad::RowCandidates;
using runtime::grad::RowSums;

class ImportanceAccumulator {
 public:
  // `weights`: name -> value of every weight that can receive a gradient.
  ImportanceAccumulator(const std::map<std::string, Tensor>& weights, LayerModel layers);

  // dL/dw of one batch; `fisher_scale` turns g^2 into a per-term Fisher estimate.
  Status add_gradient(const std::string& name, const Tensor& grad, double fisher_scale);
  // The same for a gradient given as its factors: each block of rows is computed where it is
  // reduced, so the gradient is never stored whole.
  Status add_factored_gradient(const std::string& name, runtime::grad::FactoredGrad& grad, double fisher_scale);
  void end_batch();

  // Final scores after `batches` batches, weights in the order given by `order`.
  std::vector<TensorImportance> tensors(const std::vector<std::string>& order) const;
  std::vector<HeadImportance> heads() const;
  const LayerModel& layers() const { return layers_; }

 private:
  // One candidate's scales: [groups][N] for a column-major weight, [rows][groups] otherwise.
  struct CandidateScales {
    std::vector<float> values;
    int64_t group = 1, groups = 1;  // weights per group along the reduction; groups per channel
    // The scales of stored row r as the row kernel reads them (importance_rows.h).
    const float* row(int64_t r, bool by_column, int64_t width) const {
      return values.data() + (by_column ? (r / group) * width : r * groups);
    }
  };
  struct State {
    Tensor value;
    const Layer* layer = nullptr;                 // when the weight is a linear/conv layer
    // The candidates' codes and scales (importance_rows.h), from which the row kernel rebuilds
    // dw = Q(w) - w: 2 bytes a weight instead of three stored errors.
    std::vector<int8_t> q8;
    std::vector<uint8_t> q4;
    CandidateScales scales[kMaxRowCandidates];
    double batch_sum = 0;                        // this batch's sum g w
    double taylor_abs = 0;                       // sum over batches of |batch_sum|
    std::vector<double> batch_channel;           // this batch's per-channel sum g w (layers)
    std::vector<double> channel_abs;             // sum over batches of |batch_channel|
    // Fisher-weighted sums, accumulated directly (F never exists per element; every score is
    // linear in F): scale g^2, scale (g w)^2 in total and per channel (bias included), and per
    // candidate scale g^2 dw^2 and g dw.
    double fisher_sum = 0, removal = 0;
    std::vector<double> channel_removal;
    std::vector<double> noise, first;
    // For an FFN's second layer and an attention output projection: per input channel (the
    // first layer's neuron, the head's channel) this batch's sum g w, and scale (g w)^2.
    std::vector<double> batch_input, input_removal;
    std::vector<double> own_abs;  // an FFN first layer: sum over batches of |its own channels' sum g w|
  };
  // Rows [r0, r1) of the gradient as stored: a pointer into the gradient, or rows computed
  // into a buffer of the calling thread.
  using RowBlockSource = std::function<const float*(int64_t r0, int64_t r1)>;
  static int64_t stored_width(const State& st);
  void accumulate(State& st, double fisher_scale, const RowBlockSource& rows_of);

  LayerModel layers_;
  std::map<std::string, State> states_;
  std::map<std::string, std::string> bias_owner_;  // bias -> layer weight
  std::vector<std::vector<double>> head_abs_;       // per attention block, per head
  std::vector<std::vector<double>> head_own_abs_;   // the same over the Q/K/V weights only
  // Grouped-query attention: (query block, key/value block) indices, per KV group |sum g w| of
  // the whole unit and of its projections only (HeadImportance::group_taylor).
  std::vector<std::pair<size_t, size_t>> gqa_pairs_;
  std::vector<std::vector<double>> gqa_abs_, gqa_own_abs_;
  double head_channel_sum(const AttentionBlock& block, int64_t head) const;
  // (FFN first layer, its second layer): a neuron's group is its W1 column, b1 entry and W2 row.
  std::vector<std::pair<std::string, std::string>> ffn_pairs_;
  int64_t batches_ = 0;
};

}  // namespace ember::passes::analysis
