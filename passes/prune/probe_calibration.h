// Puts every layer's unit scores on one measured scale, so that FFN neurons and attention heads
// can share one budget (joint_selection.h). The gradient scores are first-order estimates per
// unit; summed over the many units that a ratio removes they miss by a factor that differs
// between layers and unit kinds (on kjv-gpt2 heads' |sum g w| come out far cheaper per
// parameter than neurons', yet removing them costs more). One probe per layer measures it:
//   the layer's lowest-scoring share q of units is masked (their input columns of the consumer
//   set to zero: the unit's contribution removed, nothing else changed), the model runs on the
//   first `batches` calibration batches, and the loss is the mean KL divergence of the softmax
//   over the last axis of the first output, KL(p_original || p_masked), in nats per position;
//   the layer's scores are scaled by  f_l = KL_l / sum_{u probed} s_u,
// so the probed units' scaled scores add up to their measured loss, and within a layer the
// order stays the score's. Label-free: the same for an LM and a classifier.
#pragma once
#include <cstdint>
#include <vector>

#include "calibration/dataset.h"
#include "passes/analysis/layer_model.h"
#include "passes/pass.h"

namespace ember::passes::prune {

struct ProbeLayer {
  analysis::Layer consumer;                     // the layer that reads the units (W2, Wo)
  std::vector<std::vector<int64_t>> channels;   // per unit: its input channels of the consumer
  std::vector<double>* scores = nullptr;        // per unit; scaled in place
};

struct ProbeResult {
  std::vector<double> loss;    // measured KL per layer (nats)
  std::vector<double> factor;  // f_l
};

// The first output of the unpruned model on the first calibration batches, kept, and the KL of
// a model with some units masked against it (the measurement every probe makes).
class ProbeMeter {
 public:
  static Result<ProbeMeter> create(const ir::Model& model, const calibration::CalibrationSet& calib, int64_t batches);
  // KL(p_original || p_masked) in nats per position, the units removed[l] of layers[l] masked.
  Result<double> masked_kl(const std::vector<ProbeLayer>& layers, const std::vector<std::vector<int64_t>>& removed) const;

 private:
  const ir::Model* model_ = nullptr;
  const calibration::CalibrationSet* calib_ = nullptr;
  int64_t batches_ = 0, width_ = 0;
  std::vector<std::vector<float>> reference_;
};

// Scales the scores by probes (fraction q of the units, at least one, at most all but one of
// each layer). `probes` lists sets of layer indices: each set is probed as one, its lowest
// share q of units over all its layers masked together (the global ranking within the set),
// and all its layers get one factor. One layer per set: per-layer factors; one set per unit
// kind (FFN neurons, heads): the exchange rate between kinds, the ranking within a kind kept.
// `model` is the unpruned model. Results are per set.
Result<ProbeResult> calibrate_scores_by_probe(const ir::Model& model, const calibration::CalibrationSet& calib,
                                              std::vector<ProbeLayer>& layers, const std::vector<std::vector<size_t>>& probes,
                                              double q, int64_t batches);

}  // namespace ember::passes::prune
