#include "passes/prune/conv_shrink.h"

#include "passes/graph_edit.h"
#include "passes/prune/channel_units.h"

namespace ember::passes::prune {
namespace {

// `t` with only the `kept` indices along `axis`.
Tensor gather_axis(const Tensor& t, int axis, const std::vector<int64_t>& kept) {
  Shape shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[size_t(i)];
  for (size_t i = size_t(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t n = shape[size_t(axis)];
  shape[size_t(axis)] = static_cast<int64_t>(kept.size());
  std::vector<float> out;
  out.reserve(size_t(outer) * kept.size() * size_t(inner));
  const float* src = t.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : kept) out.insert(out.end(), src + (o * n + k) * inner, src + (o * n + k + 1) * inner);
  return Tensor::from_vector<float>(shape, out);
}

void set_attr_int(ir::Node& node, const std::string& name, int64_t value) {
  for (auto& a : node.attributes)
    if (a.name == name) {
      a.i = value;
      return;
    }
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInt;
  a.i = value;
  node.attributes.push_back(a);
}

Status shrink_consumer(ir::Graph& graph, const ChannelConsumer& c, int64_t kept_channels, const ConsumerUpdate& u) {
  ir::Node& node = graph.nodes[c.node];
  const Tensor& w = *graph.find_initializer(c.weight);
  const int64_t m = c.linear ? w.dim(c.rows_are_features ? 1 : 0) : w.dim(0), cols = kept_channels * c.spatial;
  if (static_cast<int64_t>(u.weight.size()) != m * cols)
    return internal_error("prune-structured: the refit of '" + node.name + "' has the wrong size");
  if (!c.linear) {
    Shape shape = w.shape();
    shape[1] = kept_channels;
    graph.set_initializer(c.weight, Tensor::from_vector<float>(shape, u.weight));
  } else if (c.rows_are_features) {  // stored [C'*S, M]
    std::vector<float> t(u.weight.size());
    for (int64_t o = 0; o < m; ++o)
      for (int64_t j = 0; j < cols; ++j) t[size_t(j * m + o)] = u.weight[size_t(o * cols + j)];
    graph.set_initializer(c.weight, Tensor::from_vector<float>({cols, m}, t));
  } else {
    graph.set_initializer(c.weight, Tensor::from_vector<float>({m, cols}, u.weight));
  }
  if (!u.bias.empty()) {
    if (c.bias.empty()) {
      if (c.linear) return internal_error("prune-structured: a bias for '" + node.name + "', which has none");
      const std::string name = unique_name(graph, c.weight + "_bias");
      graph.set_initializer(name, Tensor::from_vector<float>({m}, u.bias));
      node.inputs.resize(3);
      node.inputs[2] = name;
    } else {
      graph.set_initializer(c.bias, Tensor::from_vector<float>(graph.find_initializer(c.bias)->shape(), u.bias));
    }
  }
  if (c.linear && graph.nodes[c.reshape].op_type == "Reshape") {
    ir::Node& reshape = graph.nodes[c.reshape];
    Tensor shape = graph.find_initializer(reshape.inputs[1])->clone();
    int64_t* dims = shape.mutable_data<int64_t>();
    if (dims[1] > 0) {
      dims[1] = cols;
      const ValueReaders readers = value_readers(graph);
      if (readers.at(reshape.inputs[1]).size() > 1) reshape.inputs[1] = unique_name(graph, reshape.inputs[1] + "_pruned");
      graph.set_initializer(reshape.inputs[1], shape);
    }
  }
  for (auto& info : graph.value_info)
    if (c.linear && info.name == c.input && info.has_shape && info.dims.size() == 2) info.dims[1].value = cols;
  return Status::Ok();
}

}  // namespace

std::vector<float> consumer_canonical(const ir::Graph& graph, const ChannelConsumer& c, int64_t& rows, int64_t& cols) {
  const Tensor& w = *graph.find_initializer(c.weight);
  const float* src = w.data<float>();
  if (!c.linear || !c.rows_are_features) {
    rows = w.dim(0), cols = w.numel() / rows;
    return std::vector<float>(src, src + w.numel());
  }
  rows = w.dim(1), cols = w.dim(0);
  std::vector<float> out(size_t(rows * cols));
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t o = 0; o < rows; ++o) out[size_t(o * cols + j)] = src[j * rows + o];
  return out;
}

std::vector<int64_t> channel_columns(const std::vector<int64_t>& channels, int64_t s) {
  std::vector<int64_t> out;
  out.reserve(channels.size() * size_t(s));
  for (int64_t c : channels)
    for (int64_t j = 0; j < s; ++j) out.push_back(c * s + j);
  return out;
}

Status shrink_channel_group(ir::Graph& graph, const ChannelGroup& g, const std::vector<bool>& removed_unit,
                            const std::vector<ConsumerUpdate>& updates) {
  if (updates.size() != g.consumers.size()) return internal_error("prune-structured: one update per consumer expected");
  auto kept_of = [&](const std::string& value) { return kept_positions(units_of(g, value), removed_unit); };
  auto shrink_rows = [&](size_t index, const std::vector<int64_t>& kept) {
    const ir::Node& n = graph.nodes[index];
    graph.set_initializer(n.inputs[1], gather_axis(*graph.find_initializer(n.inputs[1]), 0, kept));
    if (n.has_input(2)) graph.set_initializer(n.inputs[2], gather_axis(*graph.find_initializer(n.inputs[2]), 0, kept));
  };
  // Consumers first: a Conv that reads the group and adds into it (a residual block of one Conv)
  // is both, and its refit has all its output rows.
  for (size_t i = 0; i < g.consumers.size(); ++i) {
    const int64_t kept = static_cast<int64_t>(kept_of(g.consumers[i].channels).size());
    EMBER_TRY(shrink_consumer(graph, g.consumers[i], kept, updates[i]));
  }
  for (size_t p : g.producers) shrink_rows(p, kept_of(graph.nodes[p].outputs[0]));
  for (size_t d : g.depthwise) {
    const std::vector<int64_t> kept = kept_of(graph.nodes[d].inputs[0]);
    shrink_rows(d, kept);
    set_attr_int(graph.nodes[d], "group", static_cast<int64_t>(kept.size()));
  }
  for (const ChannelConstant& c : g.constants)
    graph.set_initializer(c.name, gather_axis(*graph.find_initializer(c.name), c.axis, kept_of(c.value)));
  for (auto& info : graph.value_info)
    if (info.has_shape && info.dims.size() >= 2 && g.units.count(info.name))
      info.dims[1].value = static_cast<int64_t>(kept_of(info.name).size());
  return Status::Ok();
}

}  // namespace ember::passes::prune
