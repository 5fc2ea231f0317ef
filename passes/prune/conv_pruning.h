// Convolution channel pruning (prune-structured{channels=R}): channel groups (conv_groups.h)
// scored, selected, refitted and shrunk (conv_shrink.h).
// Before: Conv(C) -> BN -> Relu -> [MaxPool] -> Conv(V [M, C, k...]) (or Flatten -> Gemm)
// After:  Conv(C') -> BN -> Relu -> [MaxPool] -> Conv(V' [M, C', k...]), C' = C - removed.
// Scores per channel c of a group, lower removed first:
//   taylor | fisher: the importance analysis's per-output-channel scores of every producer
//     Conv and depthwise Conv weight of the group, summed (loss units: ranks across groups);
//   magnitude: sqrt(sum of ||row c||^2 over producer and depthwise weights) *
//     sqrt(sum of ||columns of c||^2 over consumer weights);
//   wanda: sum over consumers and the channel's columns j of ||V[:, j]||_1 * sqrt(E[x_j^2]);
//   fluctuation (FLAP): sum over the same of Var(x_j) * ||V[:, j]||^2, x the consumer's im2col
//     (or flattened) input (conv_stats.h): the output error of replacing the channel by its mean.
// Selection: neuron_selection.h (global or uniform, every group keeps at least min-keep), then in
// a Concat group every producer Conv keeps min-keep of its rows too, then kept counts optionally
// rounded to a multiple (kept_rounding.h; up, where down would break a producer's floor).
// Recovery, per consumer on its canonical [M, C*S] matrix and its input statistics (recovery.h):
// none; bias: b' = b + V_P E[x_P] (the removed columns' mean contribution, so a BN's shift or a
// Relu's positive mean is not lost; a consumer Conv without a bias gets one); lsq: the ridge
// least squares refit of the kept columns (one Cholesky per consumer); lsq-seq: the same refit on
// statistics measured again, group by group, on the model with the groups before it already
// pruned (the consumer's own inputs as they now are; the fit reproduces the consumer's output on
// those inputs with all their channels, it does not chase the upstream drift as FFN lsq-seq does).
// MACs per image: producer, depthwise and consumer work is linear in the channel count.
// Concat groups (channel_units.h): a unit is a class of tied channels; its score sums those of
// its rows and columns in every tensor, and each tensor loses the positions of removed units.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "passes/pass.h"
#include "passes/prune/conv_groups.h"
#include "passes/prune/neuron_scores.h"
#include "passes/prune/recovery.h"

namespace ember::passes::prune {

struct ChannelPruneOptions {
  double ratio = 0;
  NeuronScore score = NeuronScore::kTaylor;
  bool global = true;
  double min_keep = 0.1;
  Recovery recovery = Recovery::kLsq;
  double damp = 0.01;
  int64_t multiple = 1;     // kept channels rounded to a multiple of this (1: as selected)
  int64_t max_rows = 8192;  // im2col rows per consumer in the statistics
  // Per-group ratios, by group name or by any producer's node name: those groups lose that
  // fraction (uniformly, min-keep and multiple still apply); `ratio` ranks the others.
  std::map<std::string, double> group_ratios;
};

// "NAME:R;NAME:R" (the pass option channel-ratios) -> {NAME: R}, each R in [0, 1).
Result<std::map<std::string, double>> parse_group_ratios(const std::string& text);

struct PrunedChannelGroup {
  std::string producers, consumers;  // node names joined by '+'
  int64_t channels_before = 0, channels_after = 0;
  int64_t params_before = 0, params_after = 0;
  int64_t macs_before = 0, macs_after = 0;  // per image
  double threshold = 0;
  std::string remark;  // how Concats tie the channels (conv_groups.h), empty without one
};

struct ChannelPruneReport {
  std::vector<PrunedChannelGroup> groups;
  std::vector<SkippedGroup> skipped;
  int64_t removed = 0;
};

// Finds and prunes the channel groups of `pruned` in place (a working copy: on error the
// caller drops it). `original` is the unpruned model the importance analysis scores.
Result<ChannelPruneReport> prune_conv_channels(const ir::Model& original, ir::Model& pruned, PassContext& ctx,
                                               const ChannelPruneOptions& options);

// One JSON object per group: producers, consumers, channels, parameters and MACs before and after, threshold.
nlohmann::json channel_groups_json(const std::vector<PrunedChannelGroup>& groups);

}  // namespace ember::passes::prune
