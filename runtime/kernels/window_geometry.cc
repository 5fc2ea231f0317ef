#include "runtime/kernels/window_geometry.h"

#include <algorithm>

namespace ember::runtime {
namespace {

int64_t product(const std::vector<int64_t>& values) {
  int64_t p = 1;
  for (int64_t v : values) p *= v;
  return p;
}

Status check_all(const std::vector<int64_t>& values, int64_t minimum, const char* name) {
  for (int64_t v : values)
    if (v < minimum)
      return invalid_input(std::string("attribute ") + name + " has value " + std::to_string(v) + ", expected >= " +
                           std::to_string(minimum));
  return Status::Ok();
}

// Output size from the effective kernel extent and the total input extent (padding included).
int64_t window_count(int64_t extent, int64_t dilated_kernel, int64_t stride, bool ceil_mode) {
  const int64_t span = extent - dilated_kernel;
  if (span < 0) return 0;
  return (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
}

}  // namespace

int64_t WindowGeometry::in_size() const { return product(in); }
int64_t WindowGeometry::out_size() const { return product(out); }
int64_t WindowGeometry::kernel_size() const { return product(kernel); }

Result<WindowAttrs> read_window_attrs(const ir::Node& node) {
  WindowAttrs attrs;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    attrs.auto_pad = AutoPad::kNotSet;
  } else if (auto_pad == "SAME_UPPER") {
    attrs.auto_pad = AutoPad::kSameUpper;
  } else if (auto_pad == "SAME_LOWER") {
    attrs.auto_pad = AutoPad::kSameLower;
  } else if (auto_pad == "VALID") {
    attrs.auto_pad = AutoPad::kValid;
  } else {
    return invalid_input("unknown auto_pad '" + auto_pad + "'");
  }
  attrs.kernel_shape = node.attr_ints("kernel_shape");
  attrs.strides = node.attr_ints("strides");
  attrs.dilations = node.attr_ints("dilations");
  attrs.pads = node.attr_ints("pads");
  attrs.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  EMBER_TRY(check_all(attrs.kernel_shape, 1, "kernel_shape"));
  EMBER_TRY(check_all(attrs.strides, 1, "strides"));
  EMBER_TRY(check_all(attrs.dilations, 1, "dilations"));
  EMBER_TRY(check_all(attrs.pads, 0, "pads"));
  if (attrs.pads.size() % 2 != 0) return invalid_input("attribute pads must hold a begin and an end per axis");
  return attrs;
}

Result<WindowGeometry> resolve_window(const WindowAttrs& attrs, const std::vector<int64_t>& in,
                                      const std::vector<int64_t>& kernel, const std::string& where) {
  const size_t rank = in.size();
  auto check_length = [&](const std::vector<int64_t>& values, size_t expected, const char* name) -> Status {
    if (values.empty() || values.size() == expected) return Status::Ok();
    return invalid_input(where + ": attribute " + name + " has " + std::to_string(values.size()) +
                         " values, expected " + std::to_string(expected) + " for " + std::to_string(rank) +
                         " spatial axes");
  };
  EMBER_TRY(check_length(kernel, rank, "kernel_shape"));
  if (kernel.size() != rank) return invalid_input(where + ": kernel_shape is required");
  EMBER_TRY(check_length(attrs.strides, rank, "strides"));
  EMBER_TRY(check_length(attrs.dilations, rank, "dilations"));
  EMBER_TRY(check_length(attrs.pads, 2 * rank, "pads"));

  WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  g.stride = attrs.strides.empty() ? std::vector<int64_t>(rank, 1) : attrs.strides;
  g.dilation = attrs.dilations.empty() ? std::vector<int64_t>(rank, 1) : attrs.dilations;
  g.pad_begin.assign(rank, 0);
  g.pad_end.assign(rank, 0);
  g.out.assign(rank, 0);
  for (size_t a = 0; a < rank; ++a) {
    const int64_t dilated = (kernel[a] - 1) * g.dilation[a] + 1;
    const int64_t s = g.stride[a];
    switch (attrs.auto_pad) {
      case AutoPad::kNotSet: {
        if (!attrs.pads.empty()) {
          g.pad_begin[a] = attrs.pads[a];
          g.pad_end[a] = attrs.pads[a + rank];
        }
        const int64_t extent = in[a] + g.pad_begin[a] + g.pad_end[a];
        int64_t out = window_count(extent, dilated, s, attrs.ceil_mode);
        // A last window that would start inside the end padding is dropped (ceil_mode only).
        if (attrs.ceil_mode && out > 0 && (out - 1) * s >= in[a] + g.pad_begin[a]) --out;
        g.out[a] = out;
        break;
      }
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        const int64_t out = (in[a] + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + dilated - in[a]);
        const int64_t small = total / 2;
        g.pad_begin[a] = attrs.auto_pad == AutoPad::kSameUpper ? small : total - small;
        g.pad_end[a] = total - g.pad_begin[a];
        g.out[a] = out;
        break;
      }
      case AutoPad::kValid:
        g.out[a] = window_count(in[a], dilated, s, false);
        break;
    }
    if (g.out[a] <= 0 && in[a] > 0)
      return invalid_input(where + ": kernel extent " + std::to_string(dilated) + " does not fit spatial axis " +
                           std::to_string(a) + " of size " + std::to_string(in[a]) + " with its padding");
  }
  return g;
}

std::vector<std::vector<AxisTaps>> axis_taps(const WindowGeometry& g) {
  std::vector<std::vector<AxisTaps>> taps(static_cast<size_t>(g.rank()));
  for (size_t a = 0; a < taps.size(); ++a) {
    const int64_t d = g.dilation[a];
    taps[a].resize(static_cast<size_t>(g.out[a]));
    for (int64_t o = 0; o < g.out[a]; ++o) {
      const int64_t first = o * g.stride[a] - g.pad_begin[a];  // input coordinate of tap 0
      AxisTaps& t = taps[a][static_cast<size_t>(o)];
      for (int64_t k = 0; k < g.kernel[a]; ++k) {
        const int64_t i = first + k * d;
        if (i >= -g.pad_begin[a] && i < g.in[a] + g.pad_end[a]) ++t.padded;
        if (i < 0 || i >= g.in[a]) continue;
        if (t.count++ == 0) t.start = i;
      }
    }
  }
  return taps;
}

}  // namespace ember::runtime
