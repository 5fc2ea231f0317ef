#include "passes/prune/conv_groups.h"

#include <deque>

#include "passes/graph_edit.h"
#include "passes/prune/channel_units.h"
#include "runtime/interpreter.h"

namespace ember::passes::prune {
namespace {

using Reason = std::optional<std::string>;

bool unary_channelwise(const std::string& op) {
  static const std::set<std::string> kOps = {
      "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu", "Selu", "Celu",
      "Softplus", "Softsign", "Identity", "Dropout", "Neg", "Abs", "Exp", "Sqrt", "Erf", "Gelu", "Mish", "ThresholdedRelu",
      "BatchNormalization", "InstanceNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
      "LpPool", "GlobalLpPool"};
  return kOps.count(op) > 0;
}

bool binary_channelwise(const std::string& op) {
  static const std::set<std::string> kOps = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sum"};
  return kOps.count(op) > 0;
}

bool is_depthwise(const ir::Node& n, const Tensor* w, int64_t c) {
  return n.op_type == "Conv" && w && w->rank() >= 3 && n.attr_int("group", 1) == c && c > 1 && w->dim(0) == c && w->dim(1) == 1;
}

class ChannelTracer {
 public:
  ChannelTracer(const ir::Graph& graph, const ValueShapes& shape_of)
      : graph_(graph), shape_of_(shape_of), readers_(value_readers(graph)), outputs_(graph_output_names(graph)) {
    for (size_t i = 0; i < graph.nodes.size(); ++i)
      for (const auto& o : graph.nodes[i].outputs)
        if (!o.empty()) producer_[o] = i;
    for (const auto& n : graph.nodes)
      for (const auto& a : n.attributes) {
        std::vector<std::shared_ptr<ir::Graph>> bodies = a.graphs;
        if (a.g) bodies.push_back(a.g);
        for (const auto& body : bodies)
          for (const auto& name : names_read(*body)) body_reads_.insert(name);
      }
  }

  // A plain Conv whose output channels can start a group (its weight read by it alone).
  bool producer_conv(size_t index) const {
    const ir::Node& n = graph_.nodes[index];
    if (n.op_type != "Conv" || n.attr_int("group", 1) != 1 || n.outputs.empty()) return false;
    const Tensor* w = n.has_input(1) ? graph_.find_initializer(n.inputs[1]) : nullptr;
    return w && w->dtype() == DType::kF32 && w->rank() >= 3 && read_once(n.inputs[1]) &&
           (!n.has_input(2) || (graph_.find_initializer(n.inputs[2]) && read_once(n.inputs[2])));
  }

  // The group of `seed`'s output channels, or the reason it is unsafe.
  Reason trace(size_t seed, ChannelGroup& group) {
    group_ = &group;
    path_.clear(), ids_of_.clear(), queue_.clear();
    ids_ = ChannelIds();
    conflict_.reset();
    add(graph_.nodes[seed].outputs[0], ids_.fresh(graph_.find_initializer(graph_.nodes[seed].inputs[1])->dim(0), false));
    while (!queue_.empty()) {
      const std::string v = queue_.front();
      queue_.pop_front();
      if (auto why = check_value(v)) return why;
      if (auto why = backward(v)) return why;
      if (auto why = forward(v)) return why;
      if (conflict_) return conflict_;
      if (path_.size() > 4096) return "the channels reach more than 4096 ops";
    }
    return finish();
  }

 private:
  bool read_once(const std::string& name) const {
    auto it = readers_.find(name);
    return it != readers_.end() && it->second.size() == 1 && !body_reads_.count(name) && !outputs_.count(name);
  }

  // `v` carries the channels `ids` (position by position); a value met before is tied to them.
  // A new value is traced further unless `follow` is false (a Concat input kept whole).
  void add(const std::string& v, const std::vector<int64_t>& ids, bool follow = true) {
    auto [it, inserted] = ids_of_.emplace(v, ids);
    if (inserted) {
      if (follow) queue_.push_back(v);
      return;
    }
    if (it->second.size() != ids.size()) {
      conflict_ = "value '" + v + "' is reached with " + std::to_string(ids.size()) + " and " +
                  std::to_string(it->second.size()) + " channels";
      return;
    }
    for (size_t i = 0; i < ids.size(); ++i) ids_.merge(it->second[i], ids[i]);
  }

  int64_t channels_of(const std::string& v) const { return static_cast<int64_t>(ids_of_.at(v).size()); }

  Reason check_value(const std::string& v) const {
    if (outputs_.count(v)) return "value '" + v + "' is a graph output";
    if (body_reads_.count(v)) return "value '" + v + "' is read inside a subgraph";
    const auto shape = shape_of_(v);
    if (!shape) return "the shape of '" + v + "' is unknown (not produced by the calibration run)";
    if (shape->size() < 3 || (*shape)[1] != channels_of(v))
      return "value '" + v + "' does not carry the " + std::to_string(channels_of(v)) + " channels on axis 1";
    return std::nullopt;
  }

  // Where `v` comes from: a producer Conv, or an op whose channel inputs join the group.
  Reason backward(const std::string& v) {
    auto it = producer_.find(v);
    if (it == producer_.end()) return "value '" + v + "' is a graph input or a constant";
    const size_t index = it->second;
    const ir::Node& n = graph_.nodes[index];
    if (n.outputs[0] != v) return "value '" + v + "' is a secondary output of " + n.op_type + " node '" + n.name + "'";
    if (producer_conv(index)) {
      if (graph_.find_initializer(n.inputs[1])->dim(0) != channels_of(v)) return "Conv '" + n.name + "' has other channels";
      if (!path_.count(index)) group_->producers.push_back(index);
      path_.insert(index);
      return std::nullopt;
    }
    if (n.op_type == "Concat") return concat(index, v);
    return through(index, ids_of_.at(v));  // the same checks as from its input side
  }

  Reason forward(const std::string& v) {
    auto it = readers_.find(v);
    if (it == readers_.end()) return std::nullopt;
    const std::vector<int64_t> ids = ids_of_.at(v);
    for (const ValueReader& r : it->second) {
      const ir::Node& n = graph_.nodes[r.node];
      if (n.op_type == "Conv" && r.input == 0 && n.attr_int("group", 1) == 1) {
        if (auto why = conv_consumer(r.node, v)) return why;
        continue;
      }
      if ((n.op_type == "Flatten" || n.op_type == "Reshape") && r.input == 0) {
        if (auto why = linear_consumer(r.node, v)) return why;
        continue;
      }
      if (auto why = n.op_type == "Concat" ? concat(r.node, v) : through(r.node, ids)) return why;
    }
    return std::nullopt;
  }

  // A Concat along axis 1: the output's channels are the inputs' in order; an input met for the
  // first time is traced when its producer is an op Ember follows, else its channels are pinned.
  // Along another axis it is a join (every operand has all the channels), as in through().
  Reason concat(size_t index, const std::string& v) {
    const ir::Node& n = graph_.nodes[index];
    const auto out_shape = shape_of_(n.outputs[0]);
    if (!out_shape) return "the shape of '" + n.outputs[0] + "' is unknown (not produced by the calibration run)";
    const int64_t rank = static_cast<int64_t>(out_shape->size()), axis = n.attr_int("axis", 1);
    if (axis != 1 && axis != 1 - rank) return through(index, ids_of_.at(v));
    if (path_.count(index)) return std::nullopt;
    path_.insert(index);
    for (size_t o = 1; o < n.outputs.size(); ++o)
      if (!n.outputs[o].empty()) return "Concat node '" + n.name + "' has a second output";
    std::vector<int64_t> out;
    std::string parts;
    for (const std::string& in : n.inputs) {
      if (in.empty()) continue;
      const Tensor* t = graph_.find_initializer(in);
      const auto shape = t ? std::optional<std::vector<int64_t>>(t->shape()) : shape_of_(in);
      if (!shape || static_cast<int64_t>(shape->size()) != rank)
        return "Concat node '" + n.name + "' reads '" + in + "', whose shape is unknown";
      if (!ids_of_.count(in)) {
        const bool pinned = !traceable(in);
        add(in, ids_.fresh((*shape)[1], pinned), !pinned);
        if (pinned) parts += "; '" + in + "' (" + why_pinned(in) + ") keeps its " + std::to_string((*shape)[1]) + " channels";
      }
      const std::vector<int64_t>& ids = ids_of_.at(in);
      out.insert(out.end(), ids.begin(), ids.end());
    }
    if (static_cast<int64_t>(out.size()) != (*out_shape)[1]) return "Concat node '" + n.name + "' does not add up its inputs' channels";
    group_->concats.push_back(index);
    group_->remark += std::string(group_->remark.empty() ? "" : "; ") + "Concat '" + node_label(graph_, index) + "' joins " +
                      std::to_string(n.inputs.size()) + " inputs at their channel offsets" + parts;
    add(n.outputs[0], out);
    return std::nullopt;
  }

  // Whether the tracer can follow `v` back to what produces its channels.
  bool traceable(const std::string& v) const {
    auto it = producer_.find(v);
    if (it == producer_.end() || graph_.nodes[it->second].outputs[0] != v) return false;
    const ir::Node& n = graph_.nodes[it->second];
    const Tensor* w = n.op_type == "Conv" && n.has_input(1) ? graph_.find_initializer(n.inputs[1]) : nullptr;
    return producer_conv(it->second) || (w && w->rank() >= 3 && is_depthwise(n, w, w->dim(0))) || n.op_type == "Concat" ||
           unary_channelwise(n.op_type) || binary_channelwise(n.op_type) || channel_resize(n);
  }

  std::string why_pinned(const std::string& v) const {
    auto it = producer_.find(v);
    if (it == producer_.end()) return graph_.find_initializer(v) ? "a constant" : "a graph input";
    const ir::Node& n = graph_.nodes[it->second];
    return "from " + n.op_type + " node '" + node_label(graph_, it->second) + "'";
  }

  // Resize/Upsample that scales only the spatial axes (constant scales, 1 on axes 0 and 1).
  bool channel_resize(const ir::Node& n) const {
    if (n.op_type != "Resize" && n.op_type != "Upsample") return false;
    const size_t at = n.op_type == "Upsample" ? 1 : 2;
    const Tensor* scales = n.inputs.size() > at ? graph_.find_initializer(n.inputs[at]) : nullptr;
    if (n.op_type == "Resize" && n.inputs.size() > 3 && !n.inputs[3].empty()) return false;  // sizes spell the channels
    return scales && scales->dtype() == DType::kF32 && scales->numel() >= 3 && scales->data<float>()[0] == 1.0f &&
           scales->data<float>()[1] == 1.0f;
  }

  // A channel-wise op on the path: its output joins the group; its other inputs are channel
  // values of the group, scalars or per-channel constants.
  Reason through(size_t index, const std::vector<int64_t>& ids) {
    const ir::Node& n = graph_.nodes[index];
    if (path_.count(index)) return std::nullopt;
    const int64_t channels = static_cast<int64_t>(ids.size());
    const Tensor* w = n.op_type == "Conv" && n.has_input(1) ? graph_.find_initializer(n.inputs[1]) : nullptr;
    const bool depthwise = is_depthwise(n, w, channels), resize = channel_resize(n);
    if (!depthwise && !resize && !unary_channelwise(n.op_type) && !binary_channelwise(n.op_type) && n.op_type != "Concat")
      return "the channels reach " + n.op_type + " node '" + n.name + "'" +
             (n.op_type == "Conv" ? " (a grouped Conv that is not depthwise)" : "");
    for (size_t o = 1; o < n.outputs.size(); ++o)
      if (!n.outputs[o].empty()) return n.op_type + " node '" + n.name + "' has a second output";
    path_.insert(index);
    if (depthwise) {
      if (!read_once(n.inputs[1]) || (n.has_input(2) && !read_once(n.inputs[2])))
        return "depthwise Conv '" + n.name + "' shares its weights";
      group_->depthwise.push_back(index);
    }
    if (depthwise || resize) {
      add(n.inputs[0], ids);
      add(n.outputs[0], ids);
      return std::nullopt;
    }
    const auto out_shape = shape_of_(n.outputs[0]);
    const size_t rank = out_shape ? out_shape->size() : 4;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const std::string& in = n.inputs[i];
      if (in.empty()) continue;
      if (const Tensor* t = graph_.find_initializer(in)) {
        if (auto why = side_constant(n, in, *t, rank, channels)) return why;
        continue;
      }
      if (i > 0 && unary_channelwise(n.op_type) && n.op_type != "PRelu")
        return "node '" + n.name + "' reads the non-constant value '" + in + "'";
      add(in, ids);  // a join (residual Add, excitation Mul): both sides carry the channels
    }
    add(n.outputs[0], ids);
    return std::nullopt;
  }

  // A constant beside the channels: a scalar, a tensor without the channel axis, or one
  // per channel (recorded to be shrunk) that nothing else reads.
  Reason side_constant(const ir::Node& n, const std::string& name, const Tensor& t, size_t rank, int64_t channels) {
    if (t.numel() == 1) return std::nullopt;
    const bool bn = n.op_type == "BatchNormalization" || n.op_type == "InstanceNormalization";
    int axis = bn ? 0 : static_cast<int>(t.rank()) - static_cast<int>(rank) + 1;  // aligned from the right
    if (!bn && static_cast<size_t>(t.rank()) > rank) return "constant '" + name + "' of node '" + n.name + "' has a higher rank than its operand";
    if (axis < 0 || t.dim(axis) == 1) {
      if (bn) return "normalization '" + n.name + "' has a parameter of one element";
      return std::nullopt;  // broadcast along the channels: nothing to shrink
    }
    if (t.dim(axis) != channels || t.dtype() != DType::kF32)
      return "constant '" + name + "' of node '" + n.name + "' is neither a scalar nor per-channel";
    if (!read_once(name)) return "per-channel constant '" + name + "' is shared";
    group_->constants.push_back({name, axis, n.outputs[0]});
    return std::nullopt;
  }

  Reason conv_consumer(size_t index, const std::string& v) {
    const ir::Node& n = graph_.nodes[index];
    const Tensor* w = n.has_input(1) ? graph_.find_initializer(n.inputs[1]) : nullptr;
    if (!w || w->dtype() != DType::kF32 || w->rank() < 3 || w->dim(1) != channels_of(v))
      return "consumer Conv '" + n.name + "' has no constant f32 weight over the channels";
    if (!read_once(n.inputs[1])) return "consumer Conv '" + n.name + "' shares its weight";
    if (n.has_input(2) && (!graph_.find_initializer(n.inputs[2]) || !read_once(n.inputs[2])))
      return "consumer Conv '" + n.name + "' has a shared or non-constant bias";
    ChannelConsumer c;
    c.node = index;
    c.input = n.inputs[0];
    c.channels = v;
    c.weight = n.inputs[1];
    c.bias = n.has_input(2) ? n.inputs[2] : "";
    c.outputs = w->dim(0);
    c.spatial = w->numel() / (w->dim(0) * w->dim(1));
    group_->consumers.push_back(c);
    return std::nullopt;
  }

  // Flatten(axis 1) or Reshape to [batch, C*S] read by one Gemm/MatMul with a constant weight.
  Reason linear_consumer(size_t index, const std::string& v) {
    const ir::Node& n = graph_.nodes[index];
    const auto in = shape_of_(v), out = shape_of_(n.outputs[0]);
    if (!in || !out || out->size() != 2 || (*out)[0] != (*in)[0])
      return n.op_type + " node '" + n.name + "' does not flatten the channels to [batch, features]";
    if (n.op_type == "Flatten" && n.attr_int("axis", 1) != 1) return "Flatten node '" + n.name + "' has axis != 1";
    if (n.op_type == "Reshape") {
      const Tensor* s = n.has_input(1) ? graph_.find_initializer(n.inputs[1]) : nullptr;
      if (!s || s->dtype() != DType::kI64 || s->numel() != 2) return "Reshape node '" + n.name + "' has no constant 2-D shape";
    }
    if (outputs_.count(n.outputs[0])) return "value '" + n.outputs[0] + "' is a graph output";
    auto it = readers_.find(n.outputs[0]);
    if (it == readers_.end() || it->second.size() != 1 || it->second[0].input != 0 || body_reads_.count(n.outputs[0]))
      return "the flattened value '" + n.outputs[0] + "' has readers other than one linear layer";
    const ir::Node& l = graph_.nodes[it->second[0].node];
    const bool gemm = l.op_type == "Gemm" && l.attr_int("transA", 0) == 0;
    const Tensor* w = l.has_input(1) ? graph_.find_initializer(l.inputs[1]) : nullptr;
    if ((!gemm && l.op_type != "MatMul") || !w || w->rank() != 2 || w->dtype() != DType::kF32 || !read_once(l.inputs[1]))
      return "the flattened channels reach " + l.op_type + " node '" + l.name + "', not a Gemm/MatMul with its own weight";
    ChannelConsumer c;
    c.linear = true;
    c.node = it->second[0].node;
    c.input = n.outputs[0];
    c.channels = v;
    c.weight = l.inputs[1];
    c.spatial = (*out)[1] / channels_of(v);
    c.rows_are_features = !(gemm && l.attr_int("transB", 0) == 1);
    c.outputs = w->dim(c.rows_are_features ? 1 : 0);
    c.reshape = index;
    if (w->dim(c.rows_are_features ? 0 : 1) != (*out)[1] || c.spatial * channels_of(v) != (*out)[1])
      return "linear layer '" + l.name + "' does not read the flattened channels";
    if (gemm && l.has_input(2)) {
      const Tensor* b = graph_.find_initializer(l.inputs[2]);
      if (!b || b->numel() != c.outputs || !read_once(l.inputs[2])) return "Gemm '" + l.name + "' has a shared or broadcast bias";
      c.bias = l.inputs[2];
    }
    group_->consumers.push_back(c);
    return std::nullopt;
  }

  Reason finish() {
    ChannelGroup& g = *group_;
    if (g.consumers.empty()) return "no Conv or linear layer reads the channels";
    g.channels = ids_.resolve(ids_of_, g.units);
    if (g.channels == 0) return "every channel is tied to channels that are kept (" + g.remark + ")";
    std::sort(g.producers.begin(), g.producers.end());
    for (size_t p : g.producers) g.name += (g.name.empty() ? "" : "+") + node_label(graph_, p);
    return std::nullopt;
  }

  const ir::Graph& graph_;
  const ValueShapes& shape_of_;
  ValueReaders readers_;
  std::set<std::string> outputs_, body_reads_;
  std::map<std::string, size_t> producer_;
  std::set<size_t> path_;
  ChannelGroup* group_ = nullptr;
  ChannelIds ids_;
  std::map<std::string, std::vector<int64_t>> ids_of_;  // value -> the id of each channel
  std::deque<std::string> queue_;
  Reason conflict_;
};

}  // namespace

const std::vector<int64_t>& units_of(const ChannelGroup& g, const std::string& value) {
  static const std::vector<int64_t> kNone;
  auto it = g.units.find(value);
  return it == g.units.end() ? kNone : it->second;
}

std::string node_label(const ir::Graph& graph, size_t index) {
  const ir::Node& n = graph.nodes[index];
  return n.name.empty() ? n.op_type + "#" + std::to_string(index) : n.name;
}

ChannelGroups find_channel_groups(const ir::Graph& graph, const ValueShapes& shape_of) {
  ChannelGroups out;
  ChannelTracer tracer(graph, shape_of);
  std::set<size_t> seen;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (seen.count(i) || !tracer.producer_conv(i)) continue;
    ChannelGroup group;
    const Reason why = tracer.trace(i, group);
    seen.insert(group.producers.begin(), group.producers.end());
    if (why) {
      std::string names;
      for (size_t p : group.producers) names += (names.empty() ? "" : "+") + node_label(graph, p);
      const std::string tied = group.remark.empty() ? "" : " (the channels are tied: " + group.remark + ")";
      out.skipped.push_back({names.empty() ? node_label(graph, i) : names, *why + tied});
    } else {
      out.groups.push_back(std::move(group));
    }
  }
  return out;
}

Result<std::map<std::string, std::vector<int64_t>>> observe_shapes(const ir::Model& model,
                                                                   const std::map<std::string, Tensor>& feeds) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, t] : feeds) shapes[name] = t.shape();
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& value) -> Status {
    shapes[name] = value.shape();
    return Status::Ok();
  };
  auto run = interp->run(feeds, observer);
  if (!run.ok()) return run.status().with_context("prune-structured: the shape run");
  return shapes;
}

}  // namespace ember::passes::prune
