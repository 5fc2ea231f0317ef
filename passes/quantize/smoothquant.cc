#include "passes/quantize/smoothquant.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "calibration/calibrator.h"
#include "passes/graph_edit.h"
#include "passes/quantize/activation_rewrite.h"
#include "passes/quantize/activation_targets.h"

namespace ember::passes {
namespace {

using act_quant::readers_of;

const Tensor* float_initializer(const ir::Graph& graph, const std::string& name) {
  const Tensor* t = graph.find_initializer(name);
  if (!t || t->dtype() != DType::kF32) return nullptr;
  for (const auto& in : graph.inputs)
    if (in.name == name) return nullptr;  // a feed may override it
  return t;
}

// The weight of a linear reading `value` as input A, with the axis of W that multiplies
// the input channels; nullptr when the node is not a smoothable linear of `channels` inputs.
const Tensor* linear_weight(const ir::Graph& graph, const ir::Node& node, const std::string& value, int64_t channels,
                            int& in_axis) {
  if (!node.domain.empty() || node.inputs.size() < 2 || node.inputs[0] != value || node.inputs[1] == value) return nullptr;
  if (node.op_type != "MatMul" && node.op_type != "Gemm") return nullptr;
  if (node.op_type == "Gemm" && node.attr_int("transA", 0) != 0) return nullptr;
  const Tensor* w = float_initializer(graph, node.inputs[1]);
  if (!w || w->rank() != 2) return nullptr;
  in_axis = node.op_type == "Gemm" && node.attr_int("transB", 0) != 0 ? 1 : 0;
  return w->dim(in_axis) == channels ? w : nullptr;
}

// True when the Reshape keeps the last dimension equal to `channels`.
bool keeps_channels(const ir::Graph& graph, const ir::Node& node, int64_t channels) {
  if (node.inputs.size() < 2) return false;
  const Tensor* shape = graph.find_initializer(node.inputs[1]);
  if (!shape) return false;
  auto dims = shape->to_int64s();
  return dims.ok() && !dims->empty() && dims->back() == channels;
}

// Collects the linears reached from `value`; false when some reader is not allowed.
bool collect_linears(const ir::Graph& graph, const std::string& value, int64_t channels, const std::set<std::string>& outputs,
                     std::vector<size_t>& linears) {
  if (outputs.count(value) || act_quant::read_in_subgraph(graph, value)) return false;
  const std::vector<size_t> readers = readers_of(graph, value);
  if (readers.empty()) return false;
  for (size_t r : readers) {
    const ir::Node& node = graph.nodes[r];
    int axis = 0;
    if (linear_weight(graph, node, value, channels, axis)) {
      linears.push_back(r);
    } else if (node.op_type == "Reshape" && node.domain.empty() && node.inputs[0] == value && node.outputs.size() == 1 &&
               keeps_channels(graph, node, channels)) {
      if (!collect_linears(graph, node.outputs[0], channels, outputs, linears)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Gives `name` to the group alone: when other nodes read the initializer too, the group's
// readers are rewired to a copy. Returns the name to scale in place.
std::string private_initializer(ir::Graph& graph, const std::string& name, const std::set<size_t>& group_nodes,
                                act_quant::NameMaker& names) {
  bool shared = false;
  for (size_t r : readers_of(graph, name)) shared |= !group_nodes.count(r);
  if (!shared) return name;
  const std::string copy = names.make(name + "_smoothed");
  graph.set_initializer(copy, graph.find_initializer(name)->clone());
  for (size_t r : group_nodes)
    for (auto& in : graph.nodes[r].inputs)
      if (in == name) in = copy;
  return copy;
}

}  // namespace

std::vector<SmoothGroup> find_smooth_groups(const ir::Graph& graph) {
  const std::set<std::string> outputs = graph_output_names(graph);
  std::vector<SmoothGroup> groups;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& node = graph.nodes[i];
    if (node.op_type != "LayerNormalization" || !node.domain.empty() || node.attr_int("axis", -1) != -1) continue;
    if (node.inputs.size() < 2 || node.outputs.empty()) continue;
    const Tensor* gamma = float_initializer(graph, node.inputs[1]);
    if (!gamma || gamma->rank() != 1) continue;
    if (node.has_input(2)) {
      const Tensor* beta = float_initializer(graph, node.inputs[2]);
      if (!beta || beta->shape() != gamma->shape()) continue;
    }
    bool extra_outputs_read = false;
    for (size_t o = 1; o < node.outputs.size(); ++o)
      extra_outputs_read |= !node.outputs[o].empty() && !readers_of(graph, node.outputs[o]).empty();
    if (extra_outputs_read) continue;
    SmoothGroup g;
    g.norm_node = i;
    g.activation = node.outputs[0];
    g.channels = gamma->dim(0);
    if (collect_linears(graph, g.activation, g.channels, outputs, g.linears)) groups.push_back(std::move(g));
  }
  return groups;
}

Result<size_t> smooth_activations(ir::Model& model, const calibration::CalibrationSet& set, const SmoothOptions& options,
                                  Remarks* remarks, std::string_view pass_name) {
  if (!(options.alpha >= 0 && options.alpha <= 1)) return invalid_input(std::string(pass_name) + ": alpha must be in [0, 1]");
  ir::Graph& graph = model.graph;
  const std::vector<SmoothGroup> groups = find_smooth_groups(graph);
  if (groups.empty()) {
    if (remarks) remarks->note(pass_name, "no LayerNormalization feeding only float-weight MatMul/Gemm: nothing to smooth");
    return size_t{0};
  }
  calibration::CalibratorOptions co;
  co.observer.method = calibration::CalibrationMethod::kMinMax;
  co.observer.channel_axis = -1;
  co.max_rows = options.max_rows;
  for (const auto& g : groups) co.values.push_back(g.activation);
  EMBER_ASSIGN_OR_RETURN(calibration::CalibrationResult stats, calibration::calibrate_values(model, set, co));

  act_quant::NameMaker names(graph);
  size_t smoothed = 0;
  for (const auto& g : groups) {
    auto it = stats.values.find(g.activation);
    if (it == stats.values.end() || static_cast<int64_t>(it->second.channels.size()) != g.channels) continue;
    const size_t c_count = static_cast<size_t>(g.channels);
    std::vector<double> w_max(c_count, 0.0);
    for (size_t l : g.linears) {
      int axis = 0;
      const ir::Node& node = graph.nodes[l];
      const Tensor* w = linear_weight(graph, node, node.inputs[0], g.channels, axis);
      const float* p = w->data<float>();
      const int64_t rows = w->dim(0), cols = w->dim(1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const size_t ch = static_cast<size_t>(axis == 0 ? r : c);
          w_max[ch] = std::max(w_max[ch], static_cast<double>(std::fabs(p[r * cols + c])));
        }
    }
    std::vector<float> s(c_count, 1.0f);
    for (size_t c = 0; c < c_count; ++c) {
      const auto& ch = it->second.channels[c];
      const double a_max = std::max(std::fabs(ch.min), std::fabs(ch.max));
      if (a_max > 0 && w_max[c] > 0)
        s[c] = static_cast<float>(std::clamp(std::pow(a_max, options.alpha) / std::pow(w_max[c], 1 - options.alpha), 1e-5, 1e5));
    }
    // LayerNorm parameters: divide by s.
    const std::set<size_t> norm_only = {g.norm_node};
    for (size_t input = 1; input <= 2; ++input) {
      const ir::Node& norm = graph.nodes[g.norm_node];
      if (!norm.has_input(input)) continue;
      const std::string name = private_initializer(graph, norm.inputs[input], norm_only, names);
      Tensor scaled = graph.find_initializer(name)->clone();
      float* p = scaled.mutable_data<float>();
      for (size_t c = 0; c < c_count; ++c) p[c] /= s[c];
      graph.set_initializer(name, scaled);
    }
    // Weights: multiply the rows (or columns) of input channels by s.
    std::set<std::string> done;
    for (size_t l : g.linears) {
      int axis = 0;
      linear_weight(graph, graph.nodes[l], graph.nodes[l].inputs[0], g.channels, axis);
      const std::set<size_t> group_linears(g.linears.begin(), g.linears.end());
      const std::string name = private_initializer(graph, graph.nodes[l].inputs[1], group_linears, names);
      if (!done.insert(name).second) continue;
      Tensor scaled = graph.find_initializer(name)->clone();
      float* p = scaled.mutable_data<float>();
      const int64_t rows = scaled.dim(0), cols = scaled.dim(1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) p[r * cols + c] *= s[static_cast<size_t>(axis == 0 ? r : c)];
      graph.set_initializer(name, scaled);
    }
    ++smoothed;
  }
  if (remarks) {
    remarks->count(pass_name, "groups-smoothed", static_cast<double>(smoothed));
    size_t linears = 0;
    for (const auto& g : groups) linears += g.linears.size();
    remarks->count(pass_name, "linears-rescaled", static_cast<double>(linears));
  }
  return smoothed;
}

namespace {

struct SmoothOptionValues {
  double alpha = 0.5;
  int64_t calib_rows = 0;
};

const OptionTable<SmoothOptionValues>& option_table() {
  static const OptionTable<SmoothOptionValues> table({
      {"alpha", &SmoothOptionValues::alpha,
       "Migration strength in [0, 1]: 0 leaves activations alone, 1 moves their whole range into the weights"},
      {"calib-rows", &SmoothOptionValues::calib_rows, "Calibration rows to use (0 = the whole set)"},
  });
  return table;
}

}  // namespace

std::vector<OptionSpec> SmoothQuant::option_specs() { return option_table().specs(); }

Status SmoothQuant::run(ir::Model& model, PassContext& ctx) {
  if (!ctx.calib) return invalid_input("smooth-quant needs a calibration set (ember opt --calib SET)");
  EMBER_ASSIGN_OR_RETURN(const SmoothOptionValues values, option_table().parse(options_));
  SmoothOptions options;
  options.alpha = values.alpha;
  options.max_rows = values.calib_rows;
  EMBER_ASSIGN_OR_RETURN(size_t smoothed, smooth_activations(model, *ctx.calib, options, &ctx.remarks, name()));
  (void)smoothed;
  return Status::Ok();
}

}  // namespace ember::passes
