#include "passes/prune/head_groups.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "passes/graph_edit.h"
#include "passes/prune/head_roles.h"

namespace ember::passes::prune {
namespace {

using analysis::Layer;
using Why = std::optional<std::string>;
using Dims = std::vector<int64_t>;

// Where the heads are in a value: `split` values have the head axis `axis` of size `heads`;
// the others carry them on the last axis, `width` = S*heads*d channels in S sections. `heads`
// is H, or G for a GQA key/value value before its repeat (a unit is heads / units() heads).
struct Form {
  bool split = false;
  int64_t axis = -1;
  int64_t width = 0;
  int64_t heads = 0;
  bool operator==(const Form& o) const { return split == o.split && axis == o.axis && width == o.width && heads == o.heads; }
};

bool unary_op(const std::string& op) {
  static const std::set<std::string> kOps = {"Relu", "Tanh", "Sigmoid", "Exp", "Erf",  "Sqrt", "Neg",
                                             "Cast", "Identity", "Dropout", "Gelu", "Softplus", "Abs"};
  return kOps.count(op) > 0;
}

int64_t normalize_axis(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

class HeadTracer {
 public:
  HeadTracer(const ir::Graph& graph, const analysis::LayerModel& layers, const analysis::ShapeLookup& shape_of)
      : graph_(graph), layers_(layers), shape_of_(shape_of), readers_(value_readers(graph)), outputs_(graph_output_names(graph)) {
    for (const Layer& l : layers.layers)
      if (l.is_compute()) by_node_[l.node] = &l;
  }

  // `kv`: grouped-query attention's key/value block of `block` (heads 0 for none).
  Why trace(const analysis::AttentionBlock& block, const analysis::AttentionBlock& kv, HeadGroup& group) {
    group = HeadGroup{};
    group.block = block;
    group.kv_block = kv;
    units_ = group.units(), dim_ = block.head_dim;
    forms_.clear(), queue_.clear(), matmuls_.clear(), joins_.clear(), consumer_ = nullptr, width_refusal_.clear();
    if (units_ < 2 || dim_ < 1) return kv.heads > 0 ? "fewer than two key/value heads" : "fewer than two heads";
    if (kv.heads > 0 && (kv.head_dim != dim_ || block.heads % kv.heads != 0))
      return "the query heads are no multiple of the key/value heads";
    if (auto why = collect_projections(block, group)) return why;
    if (kv.heads > 0)
      if (auto why = collect_projections(kv, group)) return why;
    std::sort(group.projections.begin(), group.projections.end(), [](const HeadProjection& a, const HeadProjection& b) {
      return a.layer.uses[0].node < b.layer.uses[0].node;
    });
    while (!queue_.empty()) {
      const std::string v = queue_.front();
      queue_.pop_front();
      if (forms_.size() > 512) return "the attention path is longer than 512 values";
      if (outputs_.count(v)) return "value '" + v + "' is a graph output";
      auto it = readers_.find(v);
      if (it == readers_.end()) continue;
      for (const ValueReader& r : it->second)
        if (auto why = step(v, forms_.at(v), r, group)) return why;
    }
    for (size_t node : matmuls_)
      if (auto why = check_matmul(graph_.nodes[node])) return why;
    for (size_t node : joins_)  // every input of a join must be a head value of the block
      for (const auto& in : graph_.nodes[node].inputs)
        if (!in.empty() && !graph_.find_initializer(in) && !forms_.count(in))
          return graph_.nodes[node].op_type + " node '" + graph_.nodes[node].name + "' mixes '" + in + "', a value from outside the block, across the heads";
    if (!consumer_) return "no output projection reads the heads";
    if (auto why = plain_layer(*consumer_)) return "output projection '" + consumer_->node + "': " + *why;
    group.output = *consumer_;
    for (const auto& [v, f] : forms_) group.values.push_back(v);
    group.width_refusal = find_roles(group);
    return std::nullopt;
  }

 private:
  Why plain_layer(const Layer& l) const {
    if (l.op != "MatMul" && l.op != "Gemm") return "its op is " + l.op;
    if (l.uses.size() != 1 || (l.uses[0].kind != analysis::UseKind::kMatMul && l.uses[0].kind != analysis::UseKind::kGemm))
      return "weight '" + l.weight + "' is shared or read through a Transpose";
    if (l.shape.size() != 2) return "weight '" + l.weight + "' is not 2-D";
    if (!l.bias.empty()) {
      auto it = readers_.find(l.bias);
      if (it == readers_.end() || it->second.size() != 1) return "bias '" + l.bias + "' is shared";
    }
    return std::nullopt;
  }

  // The block's projections: each weight's slices must tile its output channels in sections of H*d.
  Why collect_projections(const analysis::AttentionBlock& block, HeadGroup& group) {
    const int64_t unit = block.heads * dim_;
    std::map<std::string, std::vector<int64_t>> offsets;
    for (const auto& s : block.slices) offsets[s.weight].push_back(s.offset);
    for (auto& [weight, offs] : offsets) {
      const Layer* l = layers_.find(weight);
      if (!l || !l->is_compute()) return "projection '" + weight + "' is not a layer";
      if (auto why = plain_layer(*l)) return "projection '" + l->node + "': " + *why;
      std::sort(offs.begin(), offs.end());
      for (size_t i = 0; i < offs.size(); ++i)
        if (offs[i] != static_cast<int64_t>(i) * unit)
          return "projection '" + l->node + "' has channels that belong to no head";
      const int64_t sections = static_cast<int64_t>(offs.size());
      if (l->channels != sections * unit) return "projection '" + l->node + "' has channels that belong to no head";
      group.projections.push_back({*l, sections, block.heads});
      for (const ir::Node& n : graph_.nodes)  // a MatMul's raw output may be read only by its bias Add
        if (n.name == l->node && n.outputs[0] != l->output) {
          auto r = readers_.find(n.outputs[0]);
          if (outputs_.count(n.outputs[0]) || r == readers_.end() || r->second.size() != 1)
            return "the output of '" + l->node + "' is read before its bias";
          group.values.push_back(n.outputs[0]);
        }
      if (auto why = visit(l->output, {false, -1, l->channels, block.heads})) return why;
    }
    return std::nullopt;
  }

  Why visit(const std::string& value, const Form& form) {
    if (form.heads % units_ != 0) return "value '" + value + "' has heads that are no whole key/value groups";
    auto [it, added] = forms_.emplace(value, form);
    if (!added && !(it->second == form)) return "value '" + value + "' is reached with the heads laid out twice";
    if (added) queue_.push_back(value);
    return std::nullopt;
  }

  std::optional<Dims> shape(const std::string& value) const {
    if (const Tensor* t = graph_.find_initializer(value)) return t->shape();
    return shape_of_(value);
  }

  Why step(const std::string& v, const Form& f, const ValueReader& r, HeadGroup& group) {
    const ir::Node& node = graph_.nodes[r.node];
    const std::string where = node.op_type + " node '" + node.name + "'";
    if (node.outputs.empty() || node.outputs[0].empty()) return where + " has no output";
    const std::string& out = node.outputs[0];
    auto layer = by_node_.find(node.name);
    if (layer != by_node_.end() && r.input == 0 && !f.split && f.width == f.heads * dim_ && f.heads == group.heads() &&
        (node.op_type == "MatMul" || (node.op_type == "Gemm" && node.attr_int("transA", 0) == 0))) {
      if (consumer_ && consumer_ != layer->second) return "the heads reach two layers";
      consumer_ = layer->second;
      return std::nullopt;
    }
    const std::string& op = node.op_type;
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return elementwise(node, r.input, f, group);
    if (unary_op(op)) {
      if (op == "Dropout" && node.outputs.size() > 1 && !node.outputs[1].empty() && readers_.count(node.outputs[1]))
        return where + " has its mask read";
      return visit(out, f);
    }
    if ((op == "Softmax" || op == "LogSoftmax") && f.split) {
      const auto s = shape(out);
      if (!s || normalize_axis(node.attr_int("axis", -1), s->size()) != static_cast<int64_t>(s->size()) - 1)
        return where + " does not normalize over the last axis";
      return visit(out, f);
    }
    if (op == "Transpose") return transpose(node, f);
    if (f.split && (op == "Slice" || op == "Concat" || op == "Unsqueeze" || op == "Expand" || op == "Tile") &&
        (r.input == 0 || op == "Concat"))
      return within_heads(node, r.node, f, group);
    if (op == "Reshape" && r.input == 0) return reshape(node, r.node, f, group);
    if (op == "Split" && r.input == 0 && !f.split) return split(node, r.node, f, group);
    if (op == "Slice" && r.input == 0 && !f.split) return slice(node, r.node, f, group);
    if (op == "MatMul" && f.split) {
      matmuls_.insert(r.node);
      return visit(out, f);  // the other operand is checked once every value is known
    }
    return "value '" + v + "' reaches " + where;
  }

  // A binary op with a constant or a value broadcast over the heads (a scale, an attention mask).
  Why elementwise(const ir::Node& node, size_t input, const Form& f, HeadGroup& group) {
    if (node.inputs.size() != 2) return "node '" + node.name + "' has " + std::to_string(node.inputs.size()) + " inputs";
    const std::string& other = node.inputs[1 - input];
    const auto out = shape(node.outputs[0]);
    const auto in = shape(node.inputs[input]);
    const auto os = shape(other);
    if (!out || !in || !os) return "the shapes around node '" + node.name + "' are unknown";
    const int64_t shift = static_cast<int64_t>(out->size()) - static_cast<int64_t>(in->size());
    const int64_t axis = (f.split ? f.axis : static_cast<int64_t>(in->size()) - 1) + shift;
    const int64_t other_axis = axis - (static_cast<int64_t>(out->size()) - static_cast<int64_t>(os->size()));
    const int64_t other_dim = other_axis < 0 ? 1 : (*os)[size_t(other_axis)];
    if (other_dim != 1) {
      const Tensor* t = graph_.find_initializer(other);
      const bool per_channel = !f.split && t && t->dtype() == DType::kF32 && t->numel() == f.width &&
                               node.op_type == "Add" && readers_.at(other).size() == 1;
      if (!t) {
        // Another head value (rotary's two halves): both reach the output, which must get one layout.
        joins_.insert(index_of(node));
      } else {
        if (!per_channel) return "node '" + node.name + "' mixes '" + other + "' across the heads";
        group.per_channel.push_back({other, f.width / (f.heads * dim_), f.heads});
      }
    }
    return visit(node.outputs[0], {f.split, f.split ? axis : -1, f.width, f.heads});
  }

  Why transpose(const ir::Node& node, const Form& f) {
    const Dims perm = node.attr_ints("perm");
    const auto in = shape(node.inputs[0]);
    if (!in || perm.size() != in->size()) return "Transpose node '" + node.name + "' has no explicit perm";
    const int64_t rank = static_cast<int64_t>(perm.size());
    const int64_t axis = f.split ? f.axis : rank - 1;
    const int64_t to = std::find(perm.begin(), perm.end(), axis) - perm.begin();
    if (!f.split && to != rank - 1) return "Transpose node '" + node.name + "' moves the channel axis";
    return visit(node.outputs[0], {f.split, f.split ? to : -1, f.width, f.heads});
  }

  // Records the edit of entry `position` of a Reshape's shape that must read `expected`
  // (an entry of -1, or 0 copying an input dim, needs none).
  Why shape_entry(const ir::Node& node, size_t index, size_t position, int64_t expected, HeadGroup& group,
                  bool expand = false, bool width = false, std::vector<ConstEdit>* into = nullptr) {
    const std::string& s = node.inputs[1];
    const bool allowzero = node.attr_int("allowzero", 0) != 0;
    auto check = [&](const Tensor& t, size_t at, size_t reader, size_t input) -> Why {
      if (t.dtype() != DType::kI64 || at >= size_t(t.numel())) return "the shape of Reshape node '" + node.name + "' is not int64";
      const int64_t v = t.data<int64_t>()[at];
      if (v == expected) (into ? *into : group.edits).push_back({reader, input, static_cast<int64_t>(at), width});
      else if (expand ? v != 1 : !(v == -1 || (v == 0 && !allowzero)))
        return node.op_type + " node '" + node.name + "' has an unexpected shape entry";
      return std::nullopt;
    };
    if (const Tensor* t = graph_.find_initializer(s)) return check(*t, position, index, 1);
    for (size_t p = 0; p < graph_.nodes.size(); ++p) {  // a Concat of pieces: find the piece holding `position`
      const ir::Node& c = graph_.nodes[p];
      if (c.outputs.empty() || c.outputs[0] != s) continue;
      if (c.op_type != "Concat") break;
      size_t start = 0;
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        const auto ps = shape(c.inputs[i]);
        if (!ps || ps->size() != 1) break;
        const size_t len = static_cast<size_t>((*ps)[0]);
        if (position < start + len) {
          const Tensor* t = graph_.find_initializer(c.inputs[i]);
          if (!t) return "Reshape node '" + node.name + "' reads the head count from a value computed at run time";
          return check(*t, position - start, p, i);
        }
        start += len;
      }
    }
    return "Reshape node '" + node.name + "' has a shape Ember cannot trace to constants";
  }

  Why reshape(const ir::Node& node, size_t index, const Form& f, HeadGroup& group) {
    const auto in = shape(node.inputs[0]);
    const auto out = shape(node.outputs[0]);
    const std::string where = "Reshape node '" + node.name + "'";
    if (!in || !out || out->empty() || node.inputs.size() != 2) return where + ": unknown shapes";
    const size_t rank = out->size();
    if (!f.split && out->back() == f.width) {
      if (auto why = shape_entry(node, index, rank - 1, f.width, group, false, true)) return why;
      return visit(node.outputs[0], f);
    }
    const int64_t unit = f.heads * dim_;
    if (!f.split && f.width == unit && rank >= 2 && (*out)[rank - 2] == f.heads && out->back() == dim_) {
      if (auto why = shape_entry(node, index, rank - 2, f.heads, group)) return why;
      if (shape_entry(node, index, rank - 1, dim_, group, false, true, &group.dim_edits))
        width_refusal_ = where + " gives the head dimension in a form Ember cannot edit";
      return visit(node.outputs[0], {true, static_cast<int64_t>(rank) - 2, unit, f.heads});
    }
    auto product = [](auto b, auto e) { int64_t p = 1; for (; b != e; ++b) p *= *b; return p; };
    if (f.split && f.axis == static_cast<int64_t>(in->size()) - 2 && out->back() == unit &&
        product(out->begin(), out->end() - 1) == product(in->begin(), in->end() - 2)) {  // leading axes may regroup
      if (auto why = shape_entry(node, index, rank - 1, unit, group, false, true)) return why;
      return visit(node.outputs[0], {false, -1, unit, f.heads});
    }
    if (f.split && f.axis + 2 < static_cast<int64_t>(in->size()) && rank + 1 == in->size()) {
      // GQA's repeat: [.., G, r, .., d] -> [.., G r, .., d], query head h reading KV head h / r.
      const size_t a = static_cast<size_t>(f.axis);
      const int64_t merged = (*in)[a] * (*in)[a + 1];
      if ((*out)[a] == merged && std::equal(out->begin(), out->begin() + long(a), in->begin()) &&
          std::equal(out->begin() + long(a) + 1, out->end(), in->begin() + long(a) + 2)) {
        if (auto why = shape_entry(node, index, a, merged, group)) return why;
        return visit(node.outputs[0], {true, f.axis, merged * dim_, merged});
      }
    }
    return where + " regroups the heads in a way Ember does not follow";
  }

  Why split(const ir::Node& node, size_t index, const Form& f, HeadGroup& group) {
    const auto in = shape(node.inputs[0]);
    if (!in || normalize_axis(node.attr_int("axis", 0), in->size()) != static_cast<int64_t>(in->size()) - 1)
      return "Split node '" + node.name + "' does not split the channel axis";
    if (node.has_input(1)) {
      const Tensor* sizes = graph_.find_initializer(node.inputs[1]);
      if (!sizes || sizes->dtype() != DType::kI64) return "Split node '" + node.name + "' has sizes computed at run time";
      for (int64_t i = 0; i < sizes->numel(); ++i) group.edits.push_back({index, 1, i, true});
    } else if (!node.attr_ints("split").empty()) {
      group.split_attributes.push_back(index);
    }
    for (const auto& o : node.outputs) {
      const auto s = o.empty() ? std::nullopt : shape(o);
      if (!s || s->empty() || s->back() % (f.heads * dim_) != 0 || s->back() == 0)
        return "Split node '" + node.name + "' cuts through a head";
      if (auto why = visit(o, {false, -1, s->back(), f.heads})) return why;
    }
    return std::nullopt;
  }

  Why slice(const ir::Node& node, size_t index, const Form& f, HeadGroup& group) {
    const std::string where = "Slice node '" + node.name + "'";
    const auto in = shape(node.inputs[0]);
    const auto out = shape(node.outputs[0]);
    auto constant = [&](size_t i) { return node.has_input(i) ? graph_.find_initializer(node.inputs[i]) : nullptr; };
    const Tensor *starts = constant(1), *ends = constant(2), *axes = constant(3), *steps = constant(4);
    if (!in || !out || !starts || !ends || starts->numel() != 1 || starts->dtype() != DType::kI64 ||
        ends->dtype() != DType::kI64 || (node.has_input(3) && !axes) || (node.has_input(4) && !steps))
      return where + " is not one constant range";
    const int64_t axis = axes ? normalize_axis(axes->data<int64_t>()[0], in->size()) : 0;
    if (axis != static_cast<int64_t>(in->size()) - 1 || (steps && steps->data<int64_t>()[0] != 1))
      return where + " does not take a range of the channel axis";
    const int64_t b = starts->data<int64_t>()[0], e = ends->data<int64_t>()[0], unit = f.heads * dim_;
    if (b < 0 || b % unit != 0 || (e < f.width && (e < 0 || e % unit != 0)) || out->back() % unit != 0)
      return where + " cuts through a head";
    group.edits.push_back({index, 1, 0, true});
    if (e <= f.width) group.edits.push_back({index, 2, 0, true});
    return visit(node.outputs[0], {false, -1, out->back(), f.heads});
  }

  // Ops on split values that keep every head apart: Slice and Concat of other axes (rotary's
  // rotate-half), Unsqueeze, and Expand or Tile along other axes (GQA's repeat of K and V).
  Why within_heads(const ir::Node& node, size_t index, const Form& f, HeadGroup& group) {
    const std::string where = node.op_type + " node '" + node.name + "'";
    const auto in = shape(node.inputs[0]);
    const auto out = shape(node.outputs[0]);
    if (!in || !out) return "the shapes around " + where + " are unknown";
    auto constant = [&](size_t i) { return node.has_input(i) ? graph_.find_initializer(node.inputs[i]) : nullptr; };
    const std::string& op = node.op_type;
    if (op == "Slice") {
      const Tensor* axes = constant(3);
      if (!constant(1) || !constant(2) || (node.has_input(3) && (!axes || axes->dtype() != DType::kI64 ||
                                                                  axes->numel() != constant(1)->numel())) ||
          (node.has_input(4) && !constant(4)))
        return where + " is not a constant range";
      for (int64_t i = 0; i < constant(1)->numel(); ++i)
        if (normalize_axis(axes ? axes->data<int64_t>()[i] : i, in->size()) == f.axis) return where + " cuts the head axis";
      width_refusal_ = where + " slices inside the heads (rotary embeddings)";
      return visit(node.outputs[0], f);
    }
    if (op == "Concat") {
      if (normalize_axis(node.attr_int("axis", 0), in->size()) == f.axis) return where + " joins along the head axis";
      joins_.insert(index);
      return visit(node.outputs[0], f);
    }
    if (op == "Unsqueeze") {
      Dims axes = node.attr_ints("axes");
      if (const Tensor* t = constant(1); t && t->dtype() == DType::kI64) axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
      else if (node.has_input(1)) return where + " has axes computed at run time";
      std::set<int64_t> inserted;
      for (int64_t a : axes) inserted.insert(normalize_axis(a, out->size()));
      int64_t seen = 0, to = -1;
      for (int64_t o = 0; o < static_cast<int64_t>(out->size()) && to < 0; ++o)
        if (!inserted.count(o) && seen++ == f.axis) to = o;
      if (to < 0 || inserted.size() != axes.size() || out->size() != in->size() + axes.size()) return where + " has axes Ember cannot follow";
      return visit(node.outputs[0], {true, to, f.width, f.heads});
    }
    const int64_t to = f.axis + static_cast<int64_t>(out->size()) - static_cast<int64_t>(in->size());
    if (to < 0 || (*out)[size_t(to)] != f.heads) return where + " repeats the heads along the head axis (query head h would read key/value head h mod G, a layout Ember does not prune)";
    if (op == "Tile") {
      if (!constant(1)) return where + " has repeats computed at run time";
      return visit(node.outputs[0], f);
    }
    const auto len = node.has_input(1) ? shape(node.inputs[1]) : std::nullopt;  // Expand: its shape's head entry
    if (!len || len->size() != 1) return where + " has a shape of unknown length";
    const int64_t position = (*len)[0] - static_cast<int64_t>(out->size()) + to;
    if (position >= 0)
      if (auto why = shape_entry(node, index, size_t(position), f.heads, group, true)) return why;
    return visit(node.outputs[0], {true, to, f.width, f.heads});
  }

  // Why the block's heads cannot be narrowed, or "" with group.roles filled (head_roles.h).
  std::string find_roles(HeadGroup& group) const {
    if (!width_refusal_.empty()) return width_refusal_;
    if (!joins_.empty()) return "two head values are joined inside the heads (rotary embeddings)";
    return find_head_roles(graph_, readers_, matmuls_, dim_, group);
  }

  // Both operands carry the heads on the same batch axis (aligned from the right).
  Why check_matmul(const ir::Node& node) const {
    auto a = forms_.find(node.inputs[0]), b = forms_.find(node.inputs[1]);
    if (a == forms_.end() || b == forms_.end()) return "MatMul node '" + node.name + "' mixes in a value from outside the block";
    const auto sa = shape(node.inputs[0]), sb = shape(node.inputs[1]);
    if (!sa || !sb) return "the shapes around MatMul node '" + node.name + "' are unknown";
    const int64_t ra = static_cast<int64_t>(sa->size()), rb = static_cast<int64_t>(sb->size());
    if (!a->second.split || !b->second.split || ra - a->second.axis != rb - b->second.axis || a->second.axis >= ra - 2 ||
        a->second.heads != b->second.heads)
      return "MatMul node '" + node.name + "' does not keep the heads on a batch axis";
    return std::nullopt;
  }

  const ir::Graph& graph_;
  const analysis::LayerModel& layers_;
  const analysis::ShapeLookup& shape_of_;
  ValueReaders readers_;
  std::set<std::string> outputs_;
  std::map<std::string, const Layer*> by_node_;
  size_t index_of(const ir::Node& node) const { return static_cast<size_t>(&node - graph_.nodes.data()); }

  int64_t units_ = 0, dim_ = 0;
  std::map<std::string, Form> forms_;
  std::deque<std::string> queue_;
  std::set<size_t> matmuls_, joins_;
  const Layer* consumer_ = nullptr;
  std::string width_refusal_;
};

}  // namespace

HeadGroups find_head_groups(const ir::Graph& graph, const analysis::LayerModel& layers,
                            const analysis::ShapeLookup& shape_of) {
  HeadGroups out;
  HeadTracer tracer(graph, layers, shape_of);
  std::set<std::string> claimed;  // a weight in two blocks is pruned in neither
  for (const auto& block : layers.attention)
    for (const auto& s : block.slices)
      if (!claimed.insert(s.weight + "#" + std::to_string(s.offset)).second) claimed.insert("!" + s.weight);
  const std::vector<int> partner = analysis::grouped_query_partners(layers.attention);
  std::set<size_t> paired;
  for (int p : partner)
    if (p >= 0) paired.insert(size_t(p));
  for (size_t i = 0; i < layers.attention.size(); ++i) {
    const analysis::AttentionBlock& block = layers.attention[i];
    if (paired.count(i)) continue;  // traced with its query block
    HeadGroup group;
    const std::string name = block.slices.empty() ? block.input : block.slices[0].weight;
    bool shared = false;
    for (const auto& s : block.slices) shared = shared || claimed.count("!" + s.weight);
    const analysis::AttentionBlock none;
    if (shared) {
      out.skipped.push_back({name, "a projection belongs to two attention blocks"});
    } else if (partner[i] >= 0) {  // GQA: the pair together; either alone only if that is safe
      const analysis::AttentionBlock& kv = layers.attention[size_t(partner[i])];
      if (auto why = tracer.trace(block, kv, group)) {
        const std::string reason = "grouped-query attention (" + std::to_string(block.heads) + " query heads, " +
                                   std::to_string(kv.heads) + " key/value heads): " + *why;
        for (const analysis::AttentionBlock* b : {&block, &kv}) {
          HeadGroup alone;
          if (tracer.trace(*b, none, alone)) out.skipped.push_back({b->slices.empty() ? b->input : b->slices[0].weight, reason});
          else out.groups.push_back(std::move(alone));
        }
      } else {
        out.groups.push_back(std::move(group));
      }
    } else if (auto why = tracer.trace(block, none, group)) {
      out.skipped.push_back({group.projections.empty() ? name : group.projections[0].layer.node, *why});
    } else {
      out.groups.push_back(std::move(group));
    }
  }
  std::stable_sort(out.groups.begin(), out.groups.end(), [](const HeadGroup& a, const HeadGroup& b) {
    return a.projections[0].layer.uses[0].node < b.projections[0].layer.uses[0].node;
  });
  return out;
}

Status rewrite_head_constants(ir::Graph& graph, const std::vector<ConstEdit>& edits,
                              const std::function<Result<int64_t>(int64_t, const ConstEdit&)>& f) {
  std::map<std::pair<size_t, size_t>, std::map<int64_t, ConstEdit>> by_reader;
  for (const ConstEdit& e : edits) by_reader[{e.node, e.input}].emplace(e.element, e);
  const ValueReaders readers = value_readers(graph);
  for (const auto& [at, elements] : by_reader) {
    ir::Node& node = graph.nodes[at.first];
    const std::string name = node.inputs[at.second];
    Tensor t = graph.find_initializer(name)->clone();
    for (const auto& [element, edit] : elements) {
      int64_t& v = t.mutable_data<int64_t>()[element];
      EMBER_ASSIGN_OR_RETURN(v, f(v, edit));
    }
    if (readers.at(name).size() > 1) node.inputs[at.second] = unique_name(graph, name + "_heads");
    graph.set_initializer(node.inputs[at.second], std::move(t));
  }
  return Status::Ok();
}

std::vector<int64_t> HeadGroup::unit_channels(const std::vector<int64_t>& kept, int64_t heads, int64_t sections) const {
  const int64_t per_unit = heads / units();
  std::vector<int64_t> kept_heads;
  for (int64_t u : kept)
    for (int64_t j = 0; j < per_unit; ++j) kept_heads.push_back(u * per_unit + j);
  return head_channels(kept_heads, heads, head_dim(), sections);
}

std::vector<int64_t> head_channels(const std::vector<int64_t>& kept, int64_t heads, int64_t head_dim, int64_t sections) {
  std::vector<int64_t> out;
  for (int64_t s = 0; s < sections; ++s)
    for (int64_t h : kept)
      for (int64_t j = 0; j < head_dim; ++j) out.push_back((s * heads + h) * head_dim + j);
  return out;
}

}  // namespace ember::passes::prune
