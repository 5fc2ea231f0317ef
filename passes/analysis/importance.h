// Importance of weights, structural groups and precisions, measured with gradients on a
// calibration set (runtime/grad). Per weight tensor and per group (output channel, FFN neuron,
// attention head):
//   Taylor (first order, Molchanov et al. 2019): mean over batches of |sum_{w in group} g w|,
//     the loss change predicted for removing the group.
//   Fisher: the diagonal F = E[g^2] of the empirical Fisher of the per-term loss, estimated
//     from batch gradients as terms * mean_b(g_b^2) (batch gradients average `terms`
//     per-token or per-row gradients; exact when those are uncorrelated).
//   Quantization sensitivity, per candidate precision (INT8 per channel, INT4 blocks 32/128,
//     symmetric round to nearest): noise = sum F dw^2 with dw = Q(w) - w, and the predicted
//     loss increase of quantizing that layer alone, the second-order Taylor expansion
//     g_mean . dw + 1/2 noise, the Fisher standing in for the Hessian. g_mean, the mean
//     calibration gradient, is small but not zero for a model not trained to convergence; on
//     kjv-gpt2 it lifts the rank correlation with measured INT4 damage from 0.64 to 0.76.
//   Group removal: 1/2 sum_{group} F w^2, the second-order counterpart of the Taylor score.
//   An FFN neuron's group is its first layer's column and bias entry and its second layer's row
//   (the consumer's input channel); first layers reaching one consumer (a gated FFN's gate and
//   up projections) form one group, each reporting the group's scores; a head's group is its
//   Q/K/V columns and biases and its rows of the output projection (when the layer model finds
//   it, AttentionBlock::output).
// Every Fisher score is linear in F (and the first-order term in g_mean), so the analysis
// accumulates the scores themselves, batch by batch, instead of F per element.
// Memory: one forward's saved activations, the gradients in flight (a linear layer's weight
// gradient never whole: it comes as its factors X^T dY and is reduced a block of rows at a
// time), and the candidates' codes (2 bytes a layer weight) and scales.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis/layer_model.h"

namespace ember::calibration {
class CalibrationSet;
}

namespace ember::passes::analysis {

enum class ImportanceLoss { kAuto, kLanguageModel, kCrossEntropy, kPseudoLabel, kMse };
Result<ImportanceLoss> parse_importance_loss(const std::string& name);  // auto | lm | ce | pseudo | mse
std::string importance_loss_name(ImportanceLoss loss);

// The rows and batches scored are the calibration set's (importance_batch_rows() gives the batch
// size the CLI opens it with).
struct ImportanceOptions {
  ImportanceLoss loss = ImportanceLoss::kAuto;
  int64_t heads = 0;   // > 0: number of attention heads, instead of reading it from Reshapes
  int threads = 0;
  uint32_t seed = 1;   // for the mse probes
  // The backward pass's matrix products round their inputs to bf16 and sum in f32
  // (runtime/gemm/sgemm.h GemmInputs::kBf16): about half their cost on CPUs with AVX512-BF16,
  // f32 elsewhere. Each gradient is then good to about 3 digits; the scores, sums over many
  // weights and rows, move much less (kjv-gpt2, 512 rows: Fisher sums within 1.4e-4, the
  // layers' predicted INT4 increases ranked alike at 0.9985; bench/RESULTS.md, issue 6).
  bool bf16_products = true;
  // > 0: score only the first `rows` calibration rows (all when the set has fewer). A search and
  // the prune-structured it replays both ask for the same first rows, so they get the same scores.
  int64_t rows = 0;
  std::function<void(int64_t done, int64_t total)> progress;  // not part of the key: it changes no result
  // What changes the result (threads do not: the scores are the same bits at any thread count).
  std::string key() const;
};

struct PrecisionCandidate {
  std::string precision;   // "int8", "int4"
  int64_t block = 0;       // 0: per output channel
  double noise = 0;        // sum F dw^2
  double first_order = 0;  // g_mean . dw
  double predicted_loss_increase = 0;  // first_order + noise / 2, in loss units (nats for cross-entropies)
};

struct GroupScores {
  GroupKind kind = GroupKind::kNone;
  std::vector<double> taylor;  // per group
  std::vector<double> fisher;  // per group: 1/2 sum F w^2
  // The same over this tensor's own channels only (for an FFN first layer: without its second
  // layer's rows); equal to taylor / fisher for other groups.
  std::vector<double> taylor_first, fisher_first;
};

struct TensorImportance {
  std::string name;
  std::string node;            // the node that reads it (its layer's node for a layer weight)
  std::vector<int64_t> shape;
  std::string op;              // consuming layer op, or "" for other weights
  std::string layer_node;
  double taylor = 0;           // mean |sum g w| over the tensor
  double fisher_sum = 0;       // sum of the Fisher diagonal
  double fisher_removal = 0;   // 1/2 sum F w^2
  std::vector<PrecisionCandidate> candidates;  // linear and conv weights only
  GroupScores groups;
};

struct HeadImportance {
  AttentionBlock block;
  std::vector<double> taylor;  // per head: mean |sum over the head's Q/K/V columns, biases and output rows of g w|
  std::vector<double> fisher;  // per head: 1/2 sum F w^2 over the same weights
  std::vector<double> taylor_first, fisher_first;  // the same over the Q/K/V columns and biases only
  // Grouped-query attention, on the key/value block of a query block reading the same input
  // (grouped_query_partners): per KV group, the Taylor score of the whole unit (its K/V
  // columns, its query heads' Q columns and their output rows), and without the output rows.
  std::vector<double> group_taylor, group_taylor_first;
};

struct ImportanceReport;
// The head scores of `block` (the same heads, head size and weight slices), nullptr if none.
const HeadImportance* find_head_importance(const ImportanceReport& report, const AttentionBlock& block);

struct ImportanceReport {
  std::string loss;  // resolved loss name
  std::string loss_unit;  // "nats" or "mse"
  std::string gradient_products;  // "bf16" or "f32": how the backward's products rounded their inputs
  double mean_loss = 0;
  int64_t rows = 0, batches = 0, batch_size = 0;
  std::string calibration_source, calibration_hash;
  double seconds = 0;
  double forward_seconds = 0, backward_seconds = 0;
  size_t peak_saved_activation_bytes = 0;
  int64_t gradient_path_nodes = 0;
  std::vector<TensorImportance> tensors;  // graph order of the weights
  std::vector<HeadImportance> heads;
  // Nodes on the gradient path without a backward rule, each with the weights it cuts off,
  // and every weight that got no score (cut off, or not reaching the loss at all).
  struct Cut {
    std::string node, op_type;
    std::vector<std::string> weights;
  };
  std::vector<Cut> gradient_cuts;
  std::vector<std::string> unscored_weights;
};

// Rows per batch for a requested size: capped by fixed leading dims of the model's outputs
// (exports specialised to batch 1 often only say so in their outputs and Reshape constants).
int64_t importance_batch_rows(const ir::Graph& graph, int64_t requested);

// Runs the model over every batch of `set` and scores every f32 weight.
// Errors: a loss that does not fit the model (lm on a classifier, ce without labels) and
// ops without backward rules on the gradient path are kInvalidInput / kUnsupported.
Result<ImportanceReport> compute_importance(const ir::Model& model, const calibration::CalibrationSet& set,
                                            const ImportanceOptions& options);

// The importance analysis of the AnalysisManager (analysis_manager.h).
struct ImportanceAnalysis {
  static constexpr std::string_view kName = "importance";
  using Options = ImportanceOptions;
  using Output = ImportanceReport;
  static Result<Output> compute(const ir::Model& model, const calibration::CalibrationSet& set, const Options& options,
                                const std::function<void(int64_t, int64_t)>& progress) {
    Options with_progress = options;
    if (progress) with_progress.progress = progress;
    return compute_importance(model, set, with_progress);
  }
};

}  // namespace ember::passes::analysis
