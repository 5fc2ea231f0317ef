// Calibration statistics of the inputs of channel-group consumers (conv_groups.h), in the view
// their weight multiplies: for a Conv with W [M, C, kh, kw] the im2col rows
//   x_row(n, oh, ow)[c*kh*kw + i*kw + j] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]  (0 in the padding)
// so that y[n, :, oh, ow] = W_canonical x_row + b with W_canonical = W as [M, C*kh*kw]; for a
// Gemm/MatMul after a Flatten the flattened rows [C*S] themselves. X^T X and the column sums of
// those rows give recovery.h's least squares refit and bias compensation, and the per-column
// mean and mean square give the activation scores (a channel's columns are c*k .. c*k + k - 1).
// Rows: at most `max_rows` per consumer, every stride-th row of every batch (the stride
// fixed from the first batch), so activations are never stored whole.
#pragma once
#include <map>
#include <string>

#include "calibration/dataset.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/prune/conv_groups.h"

namespace ember::passes::prune {

// Statistics keyed by consumer node label (conv_groups.h node_label); `model` is run as it is (the partly pruned copy).
Result<std::map<std::string, analysis::LayerInputStats>> collect_consumer_stats(
    const ir::Model& model, const calibration::CalibrationSet& calib, const std::vector<const ChannelGroup*>& groups,
    int64_t max_rows);

// The geometry of a 1-D or 2-D Conv on an input [N, C, H, W] (W = 1 for 1-D).
struct ConvGeometry {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0, oh = 0, ow = 0;
};
Result<ConvGeometry> conv_geometry(const ir::Node& conv, const Shape& weight, const Shape& input);

}  // namespace ember::passes::prune
