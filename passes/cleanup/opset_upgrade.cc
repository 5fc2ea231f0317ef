#include "passes/cleanup/opset_upgrade.h"

#include <algorithm>
#include <cfloat>
#include <optional>
#include <set>

#include "ir/builders.h"

namespace ember::passes {
namespace {

const std::set<std::string> kLegacyBroadcastOps = {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor",
                                                    "Equal", "Greater", "Less", "Gemm"};
const std::set<std::string> kReduceAxesInput18 = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1",
                                                  "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
const std::set<std::string> kCoercedSoftmax = {"Softmax", "LogSoftmax", "Hardmax"};

std::string where(const ir::Node& node) { return "node '" + node.name + "' (" + node.op_type + ")"; }

std::optional<ir::Attribute> take_attr(ir::Node& node, const std::string& name) {
  auto it = std::find_if(node.attributes.begin(), node.attributes.end(), [&](const ir::Attribute& a) { return a.name == name; });
  if (it == node.attributes.end()) return std::nullopt;
  ir::Attribute a = std::move(*it);
  node.attributes.erase(it);
  return a;
}

void set_attr(ir::Node& node, ir::Attribute attr) {
  take_attr(node, attr.name);
  node.attributes.push_back(std::move(attr));
}

// Sets input `index` of `node`, padding skipped optional inputs with "".
void set_input(ir::Node& node, size_t index, const std::string& value) {
  if (node.inputs.size() <= index) node.inputs.resize(index + 1);
  node.inputs[index] = value;
}

class Upgrader {
 public:
  explicit Upgrader(ir::Model& model) : model_(model) {
    ir::for_each_graph(model.graph, [&](ir::Graph& g) {
      for (const auto& n : g.nodes) {
        for (const auto& v : n.inputs) used_.insert(v);
        for (const auto& v : n.outputs) used_.insert(v);
        used_.insert(n.name);
      }
      for (const auto& v : g.inputs) used_.insert(v.name);
      for (const auto& v : g.outputs) used_.insert(v.name);
      for (const auto& [name, t] : g.initializers) used_.insert(name);
      graphs_.push_back(&g);
    });
  }

  // Applies the rewrites of the step that arrives at opset `to`, in every graph.
  Status step(int64_t to) {
    for (ir::Graph* g : graphs_) {
      graph_ = g;
      std::vector<ir::Node> nodes;
      nodes.reserve(g->nodes.size());
      for (auto& node : g->nodes) {
        if (!node.domain.empty() && node.domain != "ai.onnx") {
          nodes.push_back(std::move(node));
          continue;
        }
        EMBER_TRY(rewrite(node, to, nodes));
      }
      g->nodes = std::move(nodes);
    }
    return Status::Ok();
  }
  size_t rewritten() const { return rewritten_; }

 private:
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }
  std::string constant(const ir::Node& node, const std::string& what, Tensor value) {
    const std::string name = fresh((node.name.empty() ? node.op_type : node.name) + "_" + what);
    graph_->set_initializer(name, std::move(value));
    return name;
  }
  std::string ints_input(const ir::Node& node, const std::string& what, const std::vector<int64_t>& values) {
    return constant(node, what, Tensor::from_vector<int64_t>({int64_t(values.size())}, values));
  }
  // The declared element type and rank of a value, when the graph says (value_info, inputs,
  // outputs, initializers of this graph or the main graph).
  const ir::ValueInfo* declared(const std::string& value) const {
    for (const ir::Graph* g : {graph_, &model_.graph})
      for (const auto* list : {&g->value_info, &g->inputs, &g->outputs})
        for (const auto& vi : *list)
          if (vi.name == value && vi.elem_type != DType::kUndefined) return &vi;
    return nullptr;
  }
  std::optional<int64_t> rank_of(const std::string& value) const {
    for (const ir::Graph* g : {graph_, &model_.graph})
      if (const Tensor* t = g->find_initializer(value)) return t->rank();
    const ir::ValueInfo* vi = declared(value);
    if (vi && vi->has_shape) return int64_t(vi->dims.size());
    return std::nullopt;
  }
  // A scalar of `value`'s element type (float when the graph does not declare it).
  Tensor scalar_like(const std::string& value, double x) const {
    const ir::ValueInfo* vi = declared(value);
    const DType t = vi ? vi->elem_type : DType::kF32;
    if (t == DType::kF64) return Tensor::scalar<double>(x);
    if (t == DType::kI64) return Tensor::scalar<int64_t>(int64_t(x));
    if (t == DType::kI32) return Tensor::scalar<int32_t>(int32_t(x));
    if (t == DType::kU8) return Tensor::scalar<uint8_t>(uint8_t(x));
    if (t == DType::kI8) return Tensor::scalar<int8_t>(int8_t(x));
    if (t == DType::kF16) {
      Tensor h = Tensor::zeros(DType::kF16, {});
      h.mutable_data<uint16_t>()[0] = float_to_half(float(x));
      return h;
    }
    return Tensor::scalar<float>(float(x));
  }

  Status rewrite(ir::Node& node, int64_t to, std::vector<ir::Node>& out);
  // Each returns whether it changed the node.
  Result<bool> early_steps(ir::Node& node, int64_t to);
  Result<bool> step11(ir::Node& node);
  Result<bool> late_steps(ir::Node& node, int64_t to);
  Status to7(ir::Node& node, std::vector<ir::Node>& out);
  Status softmax13(ir::Node& node, std::vector<ir::Node>& out);

  ir::Model& model_;
  std::set<std::string> used_;
  std::vector<ir::Graph*> graphs_;
  ir::Graph* graph_ = nullptr;
  size_t rewritten_ = 0;
};

// Opset 7: numpy broadcasting replaces broadcast/axis. B aligned at `axis` of A equals numpy
// broadcasting once B has rank(A) - axis dims, so trailing 1s are added with Unsqueeze.
Status Upgrader::to7(ir::Node& node, std::vector<ir::Node>& out) {
  const auto broadcast = take_attr(node, "broadcast");
  const auto axis = take_attr(node, "axis");
  if (node.op_type == "Gemm" || !broadcast || broadcast->i == 0 || !axis || node.inputs.size() < 2) {
    rewritten_ += broadcast.has_value();
    out.push_back(std::move(node));
    return Status::Ok();
  }
  const auto rank_a = rank_of(node.inputs[0]);
  const auto rank_b = rank_of(node.inputs[1]);
  if (!rank_a || !rank_b)
    return unsupported(where(node) + ": broadcast with axis=" + std::to_string(axis->i) +
                       " depends on the ranks of its inputs, which the model does not declare; cannot upgrade it");
  const int64_t start = axis->i < 0 ? axis->i + *rank_a : axis->i;
  const int64_t trailing = *rank_a - start - *rank_b;
  if (start < 0 || trailing < 0) return invalid_input(where(node) + ": axis " + std::to_string(axis->i) + " does not fit the input ranks");
  if (trailing > 0) {
    std::vector<int64_t> axes;
    for (int64_t i = 0; i < trailing; ++i) axes.push_back(*rank_b + i);
    const std::string expanded = fresh(node.inputs[1] + "_aligned");
    out.push_back(ir::make_node("Unsqueeze", fresh(node.name + "_align"), {node.inputs[1]}, {expanded},
                                {ir::ints_attribute("axes", axes)}));
    node.inputs[1] = expanded;
  }
  ++rewritten_;
  out.push_back(std::move(node));
  return Status::Ok();
}

// Opset 13: Softmax-style ops on a non-last axis computed over the input coerced to 2-D at
// that axis; keep exactly that computation.
Status Upgrader::softmax13(ir::Node& node, std::vector<ir::Node>& out) {
  const auto axis_attr = take_attr(node, "axis");
  const int64_t axis = axis_attr ? axis_attr->i : 1;
  const auto rank = rank_of(node.inputs.at(0));
  const bool last = axis == -1 || (rank && (axis == *rank - 1 || axis + *rank == *rank - 1));
  if (last) {
    set_attr(node, ir::int_attribute("axis", -1));
    out.push_back(std::move(node));
    return Status::Ok();
  }
  const std::string x = node.inputs[0], y = node.outputs.at(0);
  const std::string shape = fresh(y + "_shape"), flat = fresh(y + "_2d"), flat_y = fresh(y + "_2d_out");
  out.push_back(ir::make_node("Shape", fresh(node.name + "_shape"), {x}, {shape}));
  out.push_back(ir::make_node("Flatten", fresh(node.name + "_flatten"), {x}, {flat}, {ir::int_attribute("axis", axis)}));
  node.inputs[0] = flat;
  node.outputs[0] = flat_y;
  set_attr(node, ir::int_attribute("axis", -1));
  const std::string name = node.name;
  out.push_back(std::move(node));
  out.push_back(ir::make_node("Reshape", fresh(name + "_restore"), {flat_y, shape}, {y}));
  ++rewritten_;
  return Status::Ok();
}

// Opsets 9 and 10: BatchNormalization's spatial, Upsample's scales, Slice/TopK attributes.
Result<bool> Upgrader::early_steps(ir::Node& node, int64_t to) {
  const std::string& op = node.op_type;
  if (to == 9 && op == "BatchNormalization") {
    auto s = take_attr(node, "spatial");
    if (s && s->i == 0) return unsupported(where(node) + ": spatial=0 (per-element statistics) has no equivalent after opset 8");
    return s.has_value();
  }
  if (to == 9 && op == "Upsample") {
    auto s = take_attr(node, "scales");
    if (s) set_input(node, 1, constant(node, "scales", Tensor::from_vector<float>({int64_t(s->floats.size())}, s->floats)));
    return s.has_value();
  }
  if (to == 10 && op == "Slice") {
    bool changed = false;
    for (auto [attr, index] : {std::pair<const char*, size_t>{"starts", 1}, {"ends", 2}, {"axes", 3}})
      if (auto v = take_attr(node, attr)) {
        set_input(node, index, ints_input(node, attr, v->ints));
        changed = true;
      }
    return changed;
  }
  if (to == 10 && op == "TopK") {
    if (auto k = take_attr(node, "k")) set_input(node, 1, ints_input(node, "k", {k->i}));
    return true;
  }
  if (to == 10 && op == "Upsample") {
    node.op_type = "Resize";  // Resize-10 is Upsample-9 under a new name
    return true;
  }
  return false;
}

// Opset 11: Clip, Pad, Resize-10 and Scatter.
Result<bool> Upgrader::step11(ir::Node& node) {
  const std::string& op = node.op_type;
  if (op == "Clip") {
    const auto lo = take_attr(node, "min"), hi = take_attr(node, "max");
    if (lo) set_input(node, 1, constant(node, "min", scalar_like(node.inputs[0], lo->f)));
    if (hi) set_input(node, 2, constant(node, "max", scalar_like(node.inputs[0], hi->f)));
    return lo || hi;
  }
  if (op == "Pad") {
    const auto pads = take_attr(node, "pads");
    const auto value = take_attr(node, "value");
    if (!pads) return invalid_input(where(node) + ": no pads attribute");
    set_input(node, 1, ints_input(node, "pads", pads->ints));
    if (value && value->f != 0.0f) set_input(node, 2, constant(node, "value", scalar_like(node.inputs[0], value->f)));
    return true;
  }
  if (op == "Resize") {  // opset-10 form (X, scales): asymmetric, nearest rounds down
    const std::string scales = node.inputs.size() > 1 ? node.inputs[1] : "";
    node.inputs = {node.inputs[0], constant(node, "roi", Tensor::zeros(DType::kF32, {0})), scales};
    set_attr(node, ir::string_attribute("coordinate_transformation_mode", "asymmetric"));
    if (node.attr_string("mode", "nearest") == "nearest") {  // opset 10 rounds down upsampling, up downsampling
      const Tensor* s = scales.empty() ? nullptr : graph_->find_initializer(scales);
      bool up = false, down = false;
      for (int64_t i = 0; s && s->dtype() == DType::kF32 && i < s->numel(); ++i)
        (s->data<float>()[i] < 1 ? down : up) |= s->data<float>()[i] != 1;
      if (up && down) return unsupported(where(node) + ": nearest resize that both up- and downsamples has no opset-11 equivalent");
      set_attr(node, ir::string_attribute("nearest_mode", down ? "ceil" : "floor"));
    }
    return true;
  }
  if (op == "Scatter") {
    node.op_type = "ScatterElements";
    return true;
  }
  return false;
}

// Opsets 12 to 20: Dropout's ratio, axes/split as inputs, Split's num_outputs, GridSample, DFT.
Result<bool> Upgrader::late_steps(ir::Node& node, int64_t to) {
  const std::string& op = node.op_type;
  auto attr_to_ints_input = [&](const std::string& attr, size_t index) {
    auto a = take_attr(node, attr);
    if (a) set_input(node, index, ints_input(node, attr, a->ints));
    return a.has_value();
  };
  if (to == 12 && op == "Dropout") {
    auto r = take_attr(node, "ratio");
    if (r) set_input(node, 1, constant(node, "ratio", scalar_like(node.inputs[0], r->f)));
    return r.has_value();
  }
  if (to == 13 && (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum")) return attr_to_ints_input("axes", 1);
  if (to == 13 && op == "Split") return attr_to_ints_input("split", 1);
  if (to == 18 && kReduceAxesInput18.count(op)) return attr_to_ints_input("axes", 1);
  if (to == 18 && op == "Split" && !node.has_input(1) && !node.find_attr("num_outputs")) {
    set_attr(node, ir::int_attribute("num_outputs", int64_t(node.outputs.size())));
    return true;
  }
  if (to == 20 && op == "GridSample") {
    const std::string mode = node.attr_string("mode", "bilinear");
    if (mode != "bilinear" && mode != "bicubic") return false;
    set_attr(node, ir::string_attribute("mode", mode == "bilinear" ? "linear" : "cubic"));
    return true;
  }
  if (to == 20 && op == "DFT") {
    const auto axis = take_attr(node, "axis");
    set_input(node, 2, constant(node, "axis", Tensor::scalar<int64_t>(axis ? axis->i : 1)));
    return true;
  }
  return false;
}

Status Upgrader::rewrite(ir::Node& node, int64_t to, std::vector<ir::Node>& out) {
  const std::string& op = node.op_type;
  if (to == 7 && kLegacyBroadcastOps.count(op)) return to7(node, out);
  if (to == 13 && kCoercedSoftmax.count(op)) return softmax13(node, out);
  bool changed = false;
  if (to == 7 && (op == "BatchNormalization" || op == "Dropout")) {
    changed = take_attr(node, "is_test").has_value();
  } else if (to <= 10) {
    EMBER_ASSIGN_OR_RETURN(changed, early_steps(node, to));
  } else if (to == 11) {
    EMBER_ASSIGN_OR_RETURN(changed, step11(node));
  } else {
    EMBER_ASSIGN_OR_RETURN(changed, late_steps(node, to));
  }
  rewritten_ += changed;
  out.push_back(std::move(node));
  return Status::Ok();
}

}  // namespace

Result<OpsetUpgradeResult> upgrade_default_opset(ir::Model& model, int64_t target) {
  OpsetUpgradeResult result;
  result.from = model.opset_version("");
  result.to = std::max(result.from, target);
  if (result.from >= target) return result;
  if (target > 21) return invalid_input("upgrade-opset: opset " + std::to_string(target) + " is newer than Ember knows (21)");
  if (result.from < 6)
    return unsupported("upgrade-opset: the model imports opset " + std::to_string(result.from) +
                       " of the default domain; Ember upgrades from opset 6 or later");
  Upgrader upgrader(model);
  for (int64_t v = result.from + 1; v <= target; ++v) EMBER_TRY(upgrader.step(v));
  model.set_opset_version("", target);
  if (target >= 21 && model.ir_version < 10) model.ir_version = 10;
  else if (model.ir_version < 7 && target >= 13) model.ir_version = 7;
  result.nodes_rewritten = upgrader.rewritten();
  return result;
}

namespace {

const OptionTable<OpsetUpgrade::Options>& option_table() {
  static const OptionTable<OpsetUpgrade::Options> table({
      {"version", &OpsetUpgrade::Options::version,
       "Default-domain opset to raise the model to (7..21); a higher opset is left as it is"},
  });
  return table;
}

}  // namespace

nlohmann::json OpsetUpgradeResult::to_json() const {
  return {{"from", from}, {"to", to}, {"nodes_rewritten", nodes_rewritten}};
}

std::vector<OptionSpec> OpsetUpgrade::option_specs() { return option_table().specs(); }

Status OpsetUpgrade::run(ir::Model& model, PassContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Options options, option_table().parse(options_));
  EMBER_ASSIGN_OR_RETURN(OpsetUpgradeResult r, upgrade_default_opset(model, options.version));
  if (r.to != r.from) {
    ctx.remarks.note(name(), "upgraded the default-domain opset from " + std::to_string(r.from) + " to " +
                                 std::to_string(r.to) + " (" + std::to_string(r.nodes_rewritten) + " nodes rewritten)");
    ctx.remarks.count(name(), "nodes-rewritten", double(r.nodes_rewritten));
  }
  result_ = std::make_shared<OpsetUpgradeResult>(r);
  return Status::Ok();
}

}  // namespace ember::passes
