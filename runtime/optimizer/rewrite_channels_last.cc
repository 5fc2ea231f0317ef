#include "runtime/optimizer/rewrite_channels_last.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/builders.h"
#include "runtime/fused/conv_lanes_layout.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/gemm/conv_lanes.h"
#include "runtime/kernels/conv_layout.h"
#include "runtime/kernels/window_geometry.h"
#include "runtime/optimizer/pattern_rewriter.h"
#include "runtime/subgraph.h"

namespace ember::runtime {
namespace {

using ir::Node;

// Ops that compute each element from the same element alone (their other inputs, if any,
// being one-element values), so they run unchanged on any layout.
const std::set<std::string> kElementwise = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
                                            "Elu", "Selu", "Softplus", "Softsign", "Identity", "Clip", "Add",
                                            "Sub", "Mul", "Div", "DynamicQuantizeLinear", "DequantizeLinear",
                                            "QuantizeLinear"};

class LayoutPlanner {
 public:
  explicit LayoutPlanner(ir::Graph& graph) : graph_(graph) {
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& n = graph_.nodes[i];
      for (size_t o = 0; o < n.outputs.size(); ++o)
        if (!n.outputs[o].empty()) producer_[n.outputs[o]] = {static_cast<int>(i), static_cast<int>(o)};
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (!n.inputs[k].empty()) readers_[n.inputs[k]].push_back({static_cast<int>(i), static_cast<int>(k)});
      if (has_subgraph(n))
        for (const auto& name : outer_scope_reads(n)) pinned_.insert(name);
    }
    for (const auto& out : graph_.outputs) pinned_.insert(out.name);
  }

  ChannelsLastStats run() {
    ChannelsLastStats stats;
    plan_lanes();
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const int carried = carried_input(static_cast<int>(i));
      const Node& n = graph_.nodes[i];
      if (carried >= 0 && !n.outputs.empty() && !n.outputs[0].empty() && !pinned_.count(n.outputs[0]) &&
          !planes_convs_.count(static_cast<int>(i)))
        channels_last_.insert(n.outputs[0]);
    }
    while (prune_once()) {
    }
    if (channels_last_.empty() && lane_convs_.empty()) return stats;
    stats.values = static_cast<int>(channels_last_.size());
    std::set<int> dropped;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      Node& n = graph_.nodes[i];
      if (dropped.count(static_cast<int>(i)) || n.outputs.empty()) continue;
      const bool x_cl = n.has_input(0) && channels_last_.count(n.inputs[0]);
      const bool y_cl = channels_last_.count(n.outputs[0]) > 0;
      if (is_conv(n) && (x_cl || y_cl || lane_convs_.count(static_cast<int>(i)))) {
        rewrite_conv(static_cast<int>(i), x_cl, y_cl, dropped, stats);
      } else if (is_max_pool(n) && x_cl) {
        n.domain = fused::kDomain;
        n.op_type = fused::kMaxPoolChannelsLast;
        n.attributes.push_back(ir::int_attribute("y_channels_last", y_cl ? 1 : 0));
        ++stats.pools;
      }
    }
    rename_values();
    std::vector<Node> kept;
    for (size_t i = 0; i < graph_.nodes.size(); ++i)
      if (!dropped.count(static_cast<int>(i))) kept.push_back(std::move(graph_.nodes[i]));
    graph_.nodes = std::move(kept);
    return stats;
  }

 private:
  struct Use {
    int node, index;  // the node, and which of its inputs or outputs
  };

  const Tensor* constant(const std::string& name) const { return name.empty() ? nullptr : graph_.find_initializer(name); }
  bool one_element_constant(const std::string& name) const {
    const Tensor* t = constant(name);
    return t && t->numel() == 1 && t->rank() <= 1;
  }
  // A one-element value: such a constant, or the scale / zero point DynamicQuantizeLinear makes.
  bool scalar_value(const std::string& name) const {
    if (one_element_constant(name)) return true;
    auto it = producer_.find(name);
    return it != producer_.end() && it->second.index > 0 &&
           is_default_op(graph_.nodes[size_t(it->second.node)], "DynamicQuantizeLinear");
  }

  bool is_conv(const Node& n) const {
    if (!is_default_op(n, "Conv") || n.outputs.size() != 1 || !n.has_input(0)) return false;
    const Tensor* w = constant(n.inputs.size() > 1 ? n.inputs[1] : "");
    const int64_t group = n.attr_int("group", 1);
    if (!w || w->dtype() != DType::kF32 || w->rank() < 3 || w->numel() == 0 || group < 1 || w->dim(0) % group != 0)
      return false;
    const std::vector<int64_t> kernel = n.attr_ints("kernel_shape");
    if (!kernel.empty() && kernel != std::vector<int64_t>(w->shape().begin() + 2, w->shape().end())) return false;
    for (int64_t p : n.attr_ints("pads"))
      if (p < 0) return false;
    return true;
  }
  bool is_max_pool(const Node& n) const {
    return is_default_op(n, "MaxPool") && n.has_input(0) && !n.outputs.empty() && (n.outputs.size() == 1 || n.outputs[1].empty());
  }
  // The input whose layout a layout-agnostic node's output 0 takes, or -1 for other nodes.
  // Convs and MaxPools count too (input 0), though a Conv's output may be channels-last
  // whatever its input's layout.
  int carried_input(int index) const {
    const Node& n = graph_.nodes[size_t(index)];
    if (is_conv(n) || is_max_pool(n)) return 0;
    if (!kElementwise.count(n.op_type) || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.empty()) return -1;
    const std::string& op = n.op_type;
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
      if (n.inputs.size() != 2 || n.outputs.size() != 1) return -1;
      if (one_element_constant(n.inputs[1]) && !one_element_constant(n.inputs[0])) return 0;
      if (one_element_constant(n.inputs[0]) && !one_element_constant(n.inputs[1])) return 1;
      return -1;
    }
    if (!n.has_input(0)) return -1;
    for (size_t k = 1; k < n.inputs.size(); ++k)
      if (!n.inputs[k].empty() && !scalar_value(n.inputs[k])) return -1;
    if (op == "DynamicQuantizeLinear") return 0;  // outputs 1 and 2 are scalars
    return n.outputs.size() == 1 ? 0 : -1;
  }

  // Whether a channels-last candidate holds floats (the fused Conv and MaxPool read f32 only):
  // not when made by (Dynamic)QuantizeLinear, or carried from such a value.
  bool holds_floats(const std::string& v) const {
    const Use made = producer_.at(v);
    const Node& p = graph_.nodes[size_t(made.node)];
    if (is_default_op(p, "QuantizeLinear") || is_default_op(p, "DynamicQuantizeLinear")) return false;
    if (is_conv(p) || is_default_op(p, "DequantizeLinear")) return true;
    const int carried = carried_input(made.node);
    return carried >= 0 && channels_last_.count(p.inputs[size_t(carried)]) && holds_floats(p.inputs[size_t(carried)]);
  }

  // Removes the channels-last values whose producer or a reader cannot keep them so; whether
  // any was removed.
  bool prune_once() {
    std::vector<std::string> removed;
    for (const std::string& v : channels_last_) {
      const Use made = producer_.at(v);
      const Node& p = graph_.nodes[size_t(made.node)];
      const bool input_needed = !is_conv(p);  // a MaxPool or layout-agnostic node carries its input's layout
      bool ok = made.index == 0 && (!input_needed || channels_last_.count(p.inputs[size_t(carried_input(made.node))]));
      auto it = readers_.find(v);
      if (it != readers_.end())
        for (const Use& r : it->second) {
          const Node& n = graph_.nodes[size_t(r.node)];
          const bool windowed = is_conv(n) || is_max_pool(n);
          const bool layout_reader = windowed && r.index == 0 && holds_floats(v) && !planes_convs_.count(r.node);
          const bool agnostic = !windowed && carried_input(r.node) == r.index && channels_last_.count(n.outputs[0]);
          ok = ok && (layout_reader || agnostic);
        }
      if (!ok) removed.push_back(v);
    }
    for (const auto& v : removed) channels_last_.erase(v);
    return !removed.empty();
  }

  void rewrite_conv(int index, bool x_cl, bool y_cl, std::set<int>& dropped, ChannelsLastStats& stats) {
    Node& n = graph_.nodes[size_t(index)];
    n.domain = fused::kDomain;
    n.op_type = fused::kConvChannelsLast;
    n.attributes.push_back(ir::int_attribute("x_channels_last", x_cl ? 1 : 0));
    ++stats.convs;
    // A Relu that alone reads the output: into the epilogue (its output has the conv's layout).
    int r = sole_reader(n.outputs[0]);
    if (r >= 0 && !dropped.count(r) && is_default_op(graph_.nodes[size_t(r)], "Relu") && graph_.nodes[size_t(r)].outputs.size() == 1) {
      n.attributes.push_back(ir::string_attribute("activation", "relu"));
      channels_last_.erase(n.outputs[0]);
      n.outputs[0] = graph_.nodes[size_t(r)].outputs[0];
      dropped.insert(r);
      ++stats.relus_fused;
      r = sole_reader(n.outputs[0]);
    }
    // Then a MaxPool that alone reads a channels-last output: pooled per image in cache, its
    // output the conv's.
    const bool planes_out = !y_cl && lane_convs_.count(index);  // the pool reads planes, which it may
    if ((y_cl || planes_out) && r >= 0 && !dropped.count(r) && is_max_pool(graph_.nodes[size_t(r)]) &&
        graph_.nodes[size_t(r)].find_attr("kernel_shape")) {
      const Node& pool = graph_.nodes[size_t(r)];
      for (const ir::Attribute& a : pool.attributes) {
        if (a.name == "storage_order") continue;  // only says how Indices count
        n.attributes.push_back(a);
        n.attributes.back().name = "pool_" + a.name;
      }
      channels_last_.erase(n.outputs[0]);
      n.outputs[0] = pool.outputs[0];
      y_cl = channels_last_.count(n.outputs[0]) > 0;
      dropped.insert(r);
      ++stats.pools_fused;
    }
    n.attributes.push_back(ir::int_attribute("y_channels_last", y_cl ? 1 : 0));
  }

  // The static spatial sizes of values, from the graph inputs' shapes through convs, MaxPools
  // and layout-agnostic ops (absent when unknown), and from them the convs' lanes: a conv
  // whose best lanes on planes on both sides beat its best on channels-last on both sides
  // (conv_lanes.h's costs, the pool not counted) keeps its input and output planes; a conv
  // that runs position lanes with its final layouts is fused even with planes on both sides.
  void plan_lanes() {
    if (lane_width() <= 1) return;
    std::map<std::string, std::vector<int64_t>> spatial;
    for (const ir::ValueInfo& in : graph_.inputs) {
      if (!in.has_shape || in.dims.size() < 3) continue;
      std::vector<int64_t> sizes;
      for (size_t a = 2; a < in.dims.size(); ++a) sizes.push_back(in.dims[a].value);
      if (std::all_of(sizes.begin(), sizes.end(), [](int64_t v) { return v > 0; })) spatial[in.name] = sizes;
    }
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& n = graph_.nodes[i];
      const int carried = carried_input(static_cast<int>(i));
      if (carried < 0 || n.outputs.empty() || n.outputs[0].empty()) continue;
      auto it = spatial.find(n.inputs[size_t(carried)]);
      if (it == spatial.end()) continue;
      if (!is_conv(n) && !is_max_pool(n)) {
        spatial[n.outputs[0]] = it->second;
        continue;
      }
      auto attrs = read_window_attrs(n);
      if (!attrs.ok()) continue;
      const Tensor* w = is_conv(n) ? constant(n.inputs[1]) : nullptr;
      const std::vector<int64_t> kernel = w ? std::vector<int64_t>(w->shape().begin() + 2, w->shape().end()) : attrs->kernel_shape;
      auto g = resolve_window(*attrs, it->second, kernel, n.name);
      if (!g.ok() || g->rank() != static_cast<int>(kernel.size())) continue;
      spatial[n.outputs[0]] = g->out;
      if (w && std::all_of(g->stride.begin(), g->stride.end(), [](int64_t v) { return v == 1; })) plan_conv(static_cast<int>(i), *g, *w);
    }
  }

  void plan_conv(int index, const WindowGeometry& g, const Tensor& w) {
    const int64_t group = graph_.nodes[size_t(index)].attr_int("group", 1);
    const int64_t grid = fused::lane_grid(g, padded_input(g)).count;
    LaneShape s = fused::conv_lane_shape(w.shape(), group, g, grid, g.out_size(), false, false);
    if (s.x_floats > kMaxLaneImageFloats) return;
    const LaneCosts planes = lane_costs(s);
    s.x_channels_last = s.y_channels_last = true;
    const LaneCosts cl = lane_costs(s);
    if (std::min(planes.channels, planes.positions) < std::min(cl.channels, cl.positions)) planes_convs_.insert(index);
    if (planes.positions < planes.channels) lane_convs_.insert(index);
  }

  // The single reader of `value` (not a graph output nor read by a subgraph), or -1.
  int sole_reader(const std::string& value) const {
    auto it = readers_.find(value);
    if (pinned_.count(value) || it == readers_.end() || it->second.size() != 1) return -1;
    return it->second[0].node;
  }

  // Gives every channels-last value a new name, in its producer and its readers.
  void rename_values() {
    std::set<std::string> names;
    for (const Node& n : graph_.nodes) {
      names.insert(n.inputs.begin(), n.inputs.end());
      names.insert(n.outputs.begin(), n.outputs.end());
    }
    for (const auto& [name, t] : graph_.initializers) names.insert(name);
    std::map<std::string, std::string> renamed;
    for (const std::string& v : channels_last_) {
      std::string fresh = v + "/channels_last";
      for (int k = 2; names.count(fresh); ++k) fresh = v + "/channels_last" + std::to_string(k);
      names.insert(fresh);
      renamed[v] = fresh;
    }
    for (Node& n : graph_.nodes) {
      for (auto& in : n.inputs)
        if (auto it = renamed.find(in); it != renamed.end()) in = it->second;
      for (auto& out : n.outputs)
        if (auto it = renamed.find(out); it != renamed.end()) out = it->second;
    }
  }

  ir::Graph& graph_;
  std::map<std::string, Use> producer_;
  std::map<std::string, std::vector<Use>> readers_;
  std::set<std::string> pinned_;         // graph outputs and values read inside subgraphs
  std::set<std::string> channels_last_;  // the values kept channels-last
  std::set<int> planes_convs_;  // convs better with planes on both sides (plan_lanes)
  std::set<int> lane_convs_;    // convs on position lanes with planes on both sides: fused anyway
};

}  // namespace

Result<ChannelsLastStats> rewrite_channels_last(ir::Model& model, const KernelRegistry& registry) {
  if (!registry.find(fused::kConvChannelsLast, fused::kDomain, 1) || !registry.find(fused::kMaxPoolChannelsLast, fused::kDomain, 1))
    return ChannelsLastStats{};
  return LayoutPlanner(model.graph).run();
}

}  // namespace ember::runtime
