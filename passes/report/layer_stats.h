// Per-layer measurements of a compressed model against its FP32 original on one calibration
// batch: output SQNR (10 log10 of signal over error power), MACs per inference and the
// resulting energy estimate. Layers are matched by their output value name, which the
// quantization passes keep.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"
#include "passes/report/scheme_table.h"
#include "runtime/energy_model.h"

namespace ember::passes {

struct LayerStats {
  TensorScheme scheme;
  double sqnr_db = 0;     // inf when identical; NaN when the output could not be compared
  double macs = 0;        // per inference on the measured batch
};

struct ModelStats {
  std::vector<LayerStats> layers;
  runtime::WorkEstimate fp32_work, compressed_work;
  double fp32_microjoules = 0, compressed_microjoules = 0;
};

Result<ModelStats> measure_layers(const ir::Model& fp32, const ir::Model& compressed, const std::map<std::string, Tensor>& feeds);

}  // namespace ember::passes
