// Load-time layout rewrite, applied with the float fusions (InterpreterOptions::fuse_float):
// activations between convolutions stay channels-last ([N, spatial..., C], NHWC for 2-D), so
// the convolutions read their windows in place and write their GEMM's rows as they come,
// instead of transposing every activation into and out of channel planes.
//
//   X -> Conv(W const) -> Relu -> [DynamicQuantizeLinear -> DequantizeLinear] -> Conv(W const)
//     -> Relu -> MaxPool -> Flatten ...
//   => X -> ConvChannelsLast{y_channels_last, relu} -> [the same DQL -> DQ, on NHWC]
//     -> ConvChannelsLast{x_channels_last, relu, pool_kernel_shape, pool_strides...} -> Flatten ...
//
// A value becomes channels-last when it is made by a Conv with constant f32 weights (and no
// negative pads), by a MaxPool (no Indices) of a channels-last value, or by a layout-agnostic op
// of one: element-wise activations, Clip, Add/Sub/Mul/Div by a one-element constant,
// DynamicQuantizeLinear, and (De)QuantizeLinear with one-element scale and zero point; and every
// reader takes it as such (a Conv or MaxPool above as X, or a layout-agnostic op whose result
// is channels-last too). Graph outputs, values read by subgraphs and anything else keep planes.
// The greatest such set is found by removing violators until none remain. Convs and MaxPools
// reading or writing a channels-last value become the fused ops (runtime/fused/fused_ops.h);
// a Relu that alone reads such a Conv's output moves into its epilogue, and then a MaxPool that
// alone reads its channels-last output (pooled per image while in cache: the activation between
// them is never written out). Channels-last values
// are renamed (NAME/channels_last), so nothing fetches one under its old name by mistake.
//
// Narrow convs keep planes instead (issue 15: pruned convs). Where the graph inputs give the
// spatial sizes, each stride-1 conv's cost on channel lanes and on position lanes
// (runtime/gemm/conv_lanes.h: lanes wasted plus the layout copies) is compared with planes on
// both sides and with channels-last on both sides; a conv better on planes keeps its input and
// output planes, and a conv that runs position lanes on planes becomes a ConvChannelsLast
// (x/y_channels_last 0) anyway, for its Relu and MaxPool epilogue. digits-cnn pruned to 13/11
// channels:
//   X -> ConvChannelsLast{relu} (planes) -> [DQL -> DQ] -> ConvChannelsLast{relu, pool} (planes) -> Flatten
#pragma once
#include "ir/model.h"
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

struct ChannelsLastStats {
  int convs = 0;        // ConvChannelsLast nodes made
  int pools = 0;        // MaxPoolChannelsLast nodes made
  int relus_fused = 0;  // Relus moved into a conv's epilogue
  int pools_fused = 0;  // MaxPools moved into a conv's epilogue
  int values = 0;       // values kept channels-last
};

// Skipped (no change) when the registry lacks the fused kernels.
Result<ChannelsLastStats> rewrite_channels_last(ir::Model& model, const KernelRegistry& registry);

}  // namespace ember::runtime
