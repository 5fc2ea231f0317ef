// Calibration one block of layers at a time, for GPTQ on models larger than memory (issue 19).
// Before: the whole float model runs over the calibration units once, X^T X of every layer
//         input is kept (gigabytes for a 1 B model), then every layer is quantized.
// After:  the main graph's nodes (in their topological order) are cut into blocks of about
//         `block_bytes` of layer weights. For each block in turn:
//           1. a model of the block's nodes alone runs over every unit, fed with the values
//              that cross into it (kept per unit from the previous block, at first the
//              calibration feeds), observing the inputs of the block's linear layers;
//           2. the layers whose last reader is in the block are quantized (the caller's
//              QuantizeBlock) and their statistics dropped;
//           3. the values crossing out of the block are kept for the next one: from run 1
//              (inputs = the float model's), or, with `quantized_inputs`, from a second run of
//              the block on its quantized weights: the GPTQ paper's sequential mode, where each
//              layer's Hessian sees the error of the layers quantized before it.
// Memory: one block's weights (and the interpreter's packed copy), its layers' X^T X, and the
// crossing values of every unit (a few activations). The source weights are read from the
// mapped file by the block's run and released by the quantizer once it has copied them.
// Rows: the same units and the same row sampling as collect_layer_inputs (layer_inputs.h):
// with float inputs each X^T X equals the whole-model analysis's. The rows a unit gives are
// read from the first block with a linear layer (the first block extends until it has one).
// Preconditions: a main graph without subgraph bodies (control-flow bodies read outer values).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/quantize/qdq_emit.h"
#include "passes/quantize/weight_targets.h"

namespace ember::calibration {
class CalibrationSet;
}

namespace ember::passes::quant {

struct BlockStreamOptions {
  int64_t max_rows = 8192;        // rows per activation entering its statistics
  int64_t batch_rows = 0;         // rows per inference; 0 = as the set was opened
  int64_t block_bytes = 32 << 20; // layer weight bytes per block (a block holds at least one node)
  bool quantized_inputs = false;  // feed each block from the quantized blocks before it
};

struct BlockStreamReport {
  int64_t blocks = 0;
  double calibration_seconds = 0;  // the block runs
  double quantize_seconds = 0;     // inside QuantizeBlock
};

// Quantizes and emits `targets` (a subset of the graph's layers) with the statistics of their
// activations, the ones observed so far (edits are deferred into `edits`, node indices stay).
using QuantizeBlock = std::function<Status(const std::vector<Layer>& targets,
                                           const std::map<std::string, analysis::LayerInputStats>& stats)>;

// Empty when the graph can be streamed, else why not.
std::string block_stream_blocker(const ir::Graph& graph);

// Runs the blocks as above; every target is handed to `quantize` exactly once, in graph order
// within a block. `edits` are the quantizer's pending edits (read to run quantized blocks).
Status stream_layer_blocks(ir::Model& model, const calibration::CalibrationSet& calib, const std::vector<Layer>& targets,
                           const GraphEdits& edits, const BlockStreamOptions& options, const QuantizeBlock& quantize,
                           BlockStreamReport& report);

}  // namespace ember::passes::quant
