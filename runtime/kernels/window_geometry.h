// Sliding-window geometry shared by Conv, ConvTranspose and the pooling kernels: reads the
// kernel_shape / strides / dilations / pads / auto_pad / ceil_mode attributes once (prepare)
// and resolves them against an input shape (run) into output sizes and per-side padding,
// following the ONNX formulas:
//   NOTSET: out = floor_or_ceil((in + pad_begin + pad_end - ((k - 1) * d + 1)) / s) + 1
//   SAME_*: out = ceil(in / s), total pad = max(0, (out - 1) * s + (k - 1) * d + 1 - in),
//           the odd unit goes to the end (SAME_UPPER) or the beginning (SAME_LOWER)
//   VALID:  out = floor((in - ((k - 1) * d + 1)) / s) + 1, no padding
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The attributes as written on the node; empty lists mean "absent" (defaults apply).
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;  // [begin_0, ..., begin_n-1, end_0, ..., end_n-1]
  bool ceil_mode = false;
};

// Reads and checks the attributes (values positive, pads non-negative, auto_pad known).
Result<WindowAttrs> read_window_attrs(const ir::Node& node);

// One spatial layout: sizes per spatial axis. For a forward window op, `in` is the input
// and `out` the output; position o of axis a reads input o * stride - pad_begin + k * dilation.
struct WindowGeometry {
  std::vector<int64_t> in, out, kernel, stride, dilation, pad_begin, pad_end;
  int rank() const { return static_cast<int>(in.size()); }
  int64_t in_size() const;      // product of in
  int64_t out_size() const;     // product of out
  int64_t kernel_size() const;  // product of kernel
};

// Resolves a forward window (Conv, pools) for the spatial input sizes `in`. `kernel` is the
// kernel size per spatial axis (from kernel_shape or from the weights). `where` names the node.
Result<WindowGeometry> resolve_window(const WindowAttrs& attrs, const std::vector<int64_t>& in,
                                      const std::vector<int64_t>& kernel, const std::string& where);

// The taps of one pooling window along one axis that land inside the input: an arithmetic
// progression start, start + dilation, ... of `count` coordinates (padding never contributes).
struct AxisTaps {
  int64_t start = 0;   // first input coordinate inside the input
  int64_t count = 0;   // taps inside the input
  int64_t padded = 0;  // taps inside the padded input (count_include_pad's divisor)
};

// taps[a][o]: the progression of output coordinate o along spatial axis a.
std::vector<std::vector<AxisTaps>> axis_taps(const WindowGeometry& g);

}  // namespace ember::runtime
