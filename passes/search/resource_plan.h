// The energy and latency side of a search (compress.h, step 1): what every action of every layer
// costs per inference (resource_cost.h), measured on one inference (the first calibration row,
// batch 1, as the manifest's energy estimate), before any calibration runs; and after the search,
// the end-to-end latency of the chosen model and of the FP32 model, measured side by side.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "passes/search/compress.h"
#include "passes/search/latency_table.h"
#include "passes/search/layer_timing.h"
#include "passes/search/resource_cost.h"

namespace ember::passes::search {

struct ResourcePlan {
  std::map<std::string, Tensor> feeds;
  std::unique_ptr<LayerTimer> timer;
  std::optional<ResourceCosts> energy, latency;  // latency: for a latency target only
  LatencyTable own_table;  // when the options give none
  LatencyTable* table = nullptr;
};

// `prepared_bytes`: the serialized prepared model (its SHA-256 names the whole-model table entry).
Result<std::unique_ptr<ResourcePlan>> plan_resources(const ir::Model& prepared, const std::string& prepared_bytes,
                                                     const calibration::CalibrationSet& calib,
                                                     const std::vector<SearchLayer>& layers, const CompressOptions& options);

// Fills result.search's measured latencies and the table's record.
Status record_latency(const ResourcePlan& plan, const ir::Model& prepared, const CompressOptions& options, CompressResult& result);

}  // namespace ember::passes::search
