// What each action of each layer costs per inference besides bytes, for energy and latency
// targets (target.h turns these into the allocation's integer units).
// Before: the prepared FP32 model, the feeds of one inference (one calibration row), the layers.
// After:  cost[i][a] for layers[i].allowed[a], and the fixed part no action changes, with
//   predicted(allocation) = fixed + sum_i cost[i][a_i].
//   energy (runtime/energy_model.h, Horowitz ISSCC 2014, as the manifest's estimate):
//     E(i, a) = bytes_read(a) * 20 pJ + macs_i * (a keeps FP32 ? 4.6 pJ : 0.23 pJ)
//     counted per use of the weight as layer_stats.h counts it: a MatMul/Gemm/Conv use reads
//     action_bytes(a) and does its MACs; a Gather reads action_bytes(a) * looked-up elements / params.
//     Pruning at ratio r: action_bytes(a) read and macs_i (1 - r) at the FP32 price.
//     fixed = the manifest's estimate for the FP32 model - sum_i E(i, fp32).
//   latency (latency_table.h, layer_timing.h): T(i, a) = the lookup table's seconds of layer i's
//     readers under a's precision inside the whole model, measured when missing (one run of the
//     model per precision); pruning at ratio r is estimated as T(i, fp32) (1 - r), not measured.
//     fixed = the median time of the FP32 run outside every layer's segment (the nodes before the
//     first layer); it is a table entry too (keyed by the model's SHA-256 and the feeds' shapes),
//     so a recorded table reproduces every prediction.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/report/layer_stats.h"
#include "passes/search/actions.h"
#include "passes/search/latency_table.h"
#include "passes/search/layer_timing.h"

namespace ember::passes::search {

struct ResourceCosts {
  std::vector<std::vector<double>> cost;  // [layer][allowed index], joules or seconds
  double fixed = 0;                       // of the model outside the layers' actions
  std::map<std::string, double> entries;  // latency: the table entries the costs came from
  // fixed + the cost of each layer's action (an action not allowed for its layer costs as FP32).
  double predicted(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& actions) const;
  double action_cost(const std::vector<SearchLayer>& layers, size_t i, const LayerAction& action) const;
};

// `fp32`: the manifest's layer measurements of the FP32 model on the same feeds
// (measure_layers(prepared, prepared, feeds)).
Result<ResourceCosts> energy_costs(const LayerTimer& timer, const std::vector<SearchLayer>& layers, const ModelStats& fp32);

// Looks every needed entry up in `table`, measuring (and adding) the missing ones.
// `model_sha256` and the feeds' shapes name the whole-model entry.
Result<ResourceCosts> latency_costs(const LayerTimer& timer, const std::string& model_sha256,
                                    const std::map<std::string, Tensor>& feeds, const std::vector<SearchLayer>& layers,
                                    LatencyTable& table, const std::function<void(const std::string&)>& on_stage);

}  // namespace ember::passes::search
