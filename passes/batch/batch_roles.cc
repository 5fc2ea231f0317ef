#include "passes/batch/batch_roles.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <optional>
#include <set>

namespace ember::passes {
namespace {

using R = BatchRole;

// Ops whose output element i reads only element i of each (broadcast) input.
const std::set<std::string> kElementwise = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "And", "Or", "Xor", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "Where", "PRelu", "BitwiseAnd", "BitwiseOr", "Sum", "Mean"};
const std::set<std::string> kUnary = {
    "Not", "Cast", "Tanh", "Erf", "Sqrt", "Relu", "Sigmoid", "Neg", "Exp", "Log", "Abs", "Reciprocal", "Gelu",
    "Softplus", "Identity", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "IsNaN", "IsInf", "HardSigmoid",
    "LeakyRelu", "Elu", "Selu", "Clip", "HardSwish", "Mish", "QuantizeLinear", "DequantizeLinear"};

// Ops that compute each sample (dim-0 slice) from that sample alone, given batch-free weights.
const std::set<std::string> kPerSample = {
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    "BatchNormalization", "InstanceNormalization", "LRN", "ConvInteger", "QLinearConv"};

class RoleFinder {
 public:
  explicit RoleFinder(const ir::Graph& graph) : graph_(graph) {
    auto add = [&](const ir::ValueInfo& v) {
      if (v.has_shape) dims_[v.name] = v.dims;
    };
    for (const auto& v : graph.value_info) add(v);
    for (const auto& v : graph.outputs) add(v);
    for (const auto& v : graph.inputs) add(v);
    for (size_t i = 0; i < graph.nodes.size(); ++i)
      for (const auto& out : graph.nodes[i].outputs) producer_[out] = i;
  }

  Result<BatchAnalysis> run();

 private:
  Status fail(const ir::Node& node, const std::string& why) const {
    return unsupported("free-batch: cannot prove that node '" + node.name + "' (" + node.op_type + ") keeps batch rows apart: " + why);
  }
  ValueRole role(const std::string& name) const {
    auto it = a_.roles.find(name);
    return it == a_.roles.end() ? ValueRole{} : it->second;
  }
  std::optional<int> rank(const std::string& name) const;
  bool dim0_is_one(const std::string& name) const;
  bool unit_at_batch_one(const std::string& name) const;
  std::optional<std::vector<int64_t>> ints(const std::string& name) const;
  std::optional<int64_t> leading_value(const std::string& name) const;
  std::optional<int64_t> normalized_axis(const ir::Node& node, int64_t axis, const std::string& of, int extra_rank = 0) const;
  std::optional<std::vector<int64_t>> axes(const ir::Node& node, size_t input, const std::string& of, int extra_rank) const;

  Result<std::vector<ValueRole>> rule(size_t index);
  Result<ValueRole> elementwise(const ir::Node& node);
  Result<ValueRole> shape_rule(const ir::Node& node);
  Result<ValueRole> count_rule(const ir::Node& node);
  Result<ValueRole> reshape_rule(size_t index);
  Result<ValueRole> expand_rule(const ir::Node& node);
  Result<ValueRole> concat_rule(const ir::Node& node);
  Result<ValueRole> matmul_rule(const ir::Node& node);
  Result<ValueRole> gather_nd_rule(size_t index);
  Result<ValueRole> axis_op_rule(const ir::Node& node);
  Result<ValueRole> per_sample_rule(const ir::Node& node);

  const ir::Graph& graph_;
  std::map<std::string, std::vector<ir::Dim>> dims_;
  std::map<std::string, size_t> producer_;
  BatchAnalysis a_;
};

std::optional<int> RoleFinder::rank(const std::string& name) const {
  if (const Tensor* t = graph_.find_initializer(name)) return t->rank();
  auto it = dims_.find(name);
  if (it == dims_.end()) return std::nullopt;
  return static_cast<int>(it->second.size());
}

bool RoleFinder::dim0_is_one(const std::string& name) const {
  if (const Tensor* t = graph_.find_initializer(name)) return t->rank() == 0 || t->dim(0) == 1;
  auto it = dims_.find(name);
  return it != dims_.end() && (it->second.empty() || it->second[0].value == 1);
}

// A kRows value is exactly batch-major when its batch-1 dim 0 is 1 (or the batch's name).
bool RoleFinder::unit_at_batch_one(const std::string& name) const {
  auto it = dims_.find(name);
  return it != dims_.end() && !it->second.empty() && (it->second[0].value == 1 || it->second[0].param == a_.batch_param);
}

std::optional<std::vector<int64_t>> RoleFinder::ints(const std::string& name) const {
  const Tensor* t = graph_.find_initializer(name);
  if (!t || t->rank() > 1) return std::nullopt;
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t->numel(); ++i) {
    if (t->dtype() == DType::kI64) v.push_back(t->data<int64_t>()[i]);
    else if (t->dtype() == DType::kI32) v.push_back(t->data<int32_t>()[i]);
    else return std::nullopt;
  }
  return v;
}

// Element 0 of a shape vector: a constant's, or that of the first piece of a Concat.
std::optional<int64_t> RoleFinder::leading_value(const std::string& name) const {
  if (auto v = ints(name)) return v->empty() ? std::nullopt : std::optional<int64_t>((*v)[0]);
  auto it = producer_.find(name);
  if (it == producer_.end()) return std::nullopt;
  const ir::Node& n = graph_.nodes[it->second];
  if (n.op_type == "Concat" && !n.inputs.empty() && n.attr_int("axis", 0) == 0 && rank(n.inputs[0]) == 1 && role(n.inputs[0]).role == R::kFree) {
    auto first = ints(n.inputs[0]);
    if (first && first->size() == 1) return (*first)[0];
  }
  return std::nullopt;
}

// Axis `axis` of value `of` (of rank + extra_rank, for Unsqueeze's output), made non-negative.
std::optional<int64_t> RoleFinder::normalized_axis(const ir::Node&, int64_t axis, const std::string& of, int extra_rank) const {
  if (axis >= 0) return axis;
  auto r = rank(of);
  if (!r) return std::nullopt;
  return axis + *r + extra_rank;
}

std::optional<std::vector<int64_t>> RoleFinder::axes(const ir::Node& node, size_t input, const std::string& of, int extra_rank) const {
  std::vector<int64_t> raw;
  if (node.has_input(input)) {
    auto v = ints(node.inputs[input]);
    if (!v) return std::nullopt;
    raw = *v;
  } else {
    raw = node.attr_ints("axes");
  }
  if (node.op_type == "Unsqueeze") extra_rank = static_cast<int>(raw.size());
  std::vector<int64_t> out;
  for (int64_t x : raw) {
    auto n = normalized_axis(node, x, of, extra_rank);
    if (!n) return std::nullopt;
    out.push_back(*n);
  }
  return out;
}

Result<ValueRole> RoleFinder::elementwise(const ir::Node& node) {
  // One batch input and scalars (Relu, Mul by a constant, a per-tensor QuantizeLinear): the
  // output has that input's shape, so no rank is needed.
  std::vector<std::string> batch_inputs;
  bool others_scalar = true;
  for (const auto& in : node.inputs) {
    if (in.empty()) continue;
    if (role(in).role != R::kFree) batch_inputs.push_back(in);
    else others_scalar = others_scalar && rank(in) == 0;
  }
  if (batch_inputs.size() == 1 && others_scalar) {
    const ValueRole v = role(batch_inputs[0]);
    if (v.role == R::kRows || v.role == R::kDimOnly || ((node.op_type == "Identity" || node.op_type == "Cast") && v.role != R::kGatherIndex)) return v;
    if (v.role == R::kRowIndex) return ValueRole{R::kDimOnly};
  }
  int out_rank = 0;
  for (const auto& in : node.inputs) {
    if (in.empty()) continue;
    auto r = rank(in);
    if (!r) return fail(node, "the rank of '" + in + "' is unknown (no value_info)");
    out_rank = std::max(out_rank, *r);
  }
  bool all_rows = true, unit = true;
  for (const auto& in : node.inputs) {
    if (in.empty()) continue;
    const ValueRole v = role(in);
    if (v.role == R::kFree) {
      if (*rank(in) == out_rank && !dim0_is_one(in)) return fail(node, "the batch-free input '" + in + "' has a dim 0 that is not 1");
      continue;
    }
    if (v.role != R::kRows && v.role != R::kRowIndex && v.role != R::kDimOnly)
      return fail(node, "input '" + in + "' is a shape or an index, not a tensor of rows");
    if (*rank(in) != out_rank) return fail(node, "input '" + in + "' carries the batch at dim 0 but is broadcast to a higher rank");
    all_rows = all_rows && v.role == R::kRows;
    unit = unit && (v.role != R::kRows || v.unit);
  }
  if (all_rows) return ValueRole{R::kRows, unit || unit_at_batch_one(node.outputs[0])};
  if (!unit) return fail(node, "it mixes row indices with rows that are not batch-major");
  if (node.op_type == "Identity" || node.op_type == "Cast") return role(node.inputs[0]);
  return ValueRole{R::kDimOnly};
}

Result<ValueRole> RoleFinder::shape_rule(const ir::Node& node) {
  const ValueRole x = role(node.inputs[0]);
  auto start = normalized_axis(node, node.attr_int("start", 0), node.inputs[0]);
  if (!start) return fail(node, "the rank of '" + node.inputs[0] + "' is unknown");
  if (*start >= 1) return ValueRole{R::kFree};
  const bool batch_major = (x.role == R::kRows && x.unit) || x.role == R::kRowIndex || x.role == R::kDimOnly;
  if (!batch_major) return fail(node, "dim 0 of '" + node.inputs[0] + "' is a multiple of the batch, not the batch");
  const ir::Attribute* end = node.find_attr("end");
  if (end && (end->i == 1 || (rank(node.inputs[0]) && end->i == 1 - *rank(node.inputs[0])))) return ValueRole{R::kCount};
  return ValueRole{R::kShape};
}

// Ops on the batch count itself: it stays B through squeezes, reshapes, casts; a Range from it
// numbers the rows; a Gather from a batch shape picks B (index 0) or a batch-free dim.
Result<ValueRole> RoleFinder::count_rule(const ir::Node& node) {
  const std::string& op = node.op_type;
  const ValueRole x = role(node.inputs[0]);
  for (size_t i = 1; i < node.inputs.size(); ++i)
    if (node.has_input(i) && role(node.inputs[i]).role != R::kFree && !(op == "Range" && i == 1))
      return fail(node, "input '" + node.inputs[i] + "' depends on the batch");
  if (x.role == R::kCount && (op == "Squeeze" || op == "Unsqueeze" || op == "Reshape" || op == "Identity" || op == "Cast"))
    return ValueRole{R::kCount};
  if (op == "Range" && role(node.inputs[1]).role == R::kCount) {
    auto s = ints(node.inputs[0]), d = ints(node.inputs[2]);
    if (x.role == R::kFree && s && d && s->size() == 1 && d->size() == 1 && (*s)[0] == 0 && (*d)[0] == 1) return ValueRole{R::kRowIndex};
    return fail(node, "a Range over the batch that is not Range(0, batch, 1)");
  }
  if (op == "Gather" && x.role == R::kShape && node.attr_int("axis", 0) == 0) {
    auto idx = ints(node.inputs[1]);
    if (idx && idx->size() == 1) return ValueRole{(*idx)[0] == 0 ? R::kCount : R::kFree};
  }
  return fail(node, "an operation on the batch size that is not a squeeze, reshape, cast or Range(0, batch, 1)");
}

Result<ValueRole> RoleFinder::reshape_rule(size_t index) {
  const ir::Node& node = graph_.nodes[index];
  const ValueRole x = role(node.inputs[0]), s = role(node.inputs[1]);
  if (x.role == R::kCount) return count_rule(node);
  if (x.role != R::kRows) return fail(node, "it reshapes row indices or a shape");
  if (s.role == R::kShape) return ValueRole{R::kRows, true};
  if (s.role != R::kFree) return fail(node, "its shape depends on the batch in a way not understood");
  const auto first = leading_value(node.inputs[1]);
  const bool copies_dim0 = first && *first == 0 && node.attr_int("allowzero", 0) == 0;
  if (copies_dim0) return x;
  if (first && *first == -1) return ValueRole{R::kRows, unit_at_batch_one(node.outputs[0])};
  const Tensor* constant = graph_.find_initializer(node.inputs[1]);
  if (first && *first == 1 && constant && constant->dtype() == DType::kI64 && constant->rank() == 1) {
    a_.fixes.push_back({BatchFix::kReshapeBatchOne, index});
    return ValueRole{R::kRows, true};
  }
  return fail(node, "its target shape's dim 0 is neither a constant 1, -1 nor the batch");
}

Result<ValueRole> RoleFinder::expand_rule(const ir::Node& node) {
  const std::string& x = node.inputs[0];
  const ValueRole v = role(x);
  if (role(node.inputs[1]).role != R::kShape) return fail(node, "it expands a batch value to a batch-free shape");
  auto len = rank(node.inputs[1]) == 1 ? dims_.find(node.inputs[1]) : dims_.end();
  if (len == dims_.end() || len->second.empty() || len->second[0].value < 0) return fail(node, "the length of its shape is unknown");
  const int n = static_cast<int>(len->second[0].value);
  auto r = rank(x);
  if (!r) return fail(node, "the rank of '" + x + "' is unknown");
  if (v.role == R::kFree && (*r < n || (*r == n && dim0_is_one(x)))) return ValueRole{R::kRows, true};
  if (*r != n) return fail(node, "its input's dim 0 is not aligned with the batch in its shape");
  if (v.role == R::kRowIndex || v.role == R::kDimOnly || (v.role == R::kRows && v.unit)) return v;
  return fail(node, "it expands a value whose dim 0 is not the batch");
}

Result<ValueRole> RoleFinder::concat_rule(const ir::Node& node) {
  const ValueRole first = role(node.inputs[0]);
  if (first.role == R::kCount || first.role == R::kShape) {
    for (size_t i = 1; i < node.inputs.size(); ++i)
      if (role(node.inputs[i]).role != R::kFree) return fail(node, "it joins the batch size with other batch values");
    return ValueRole{R::kShape};
  }
  auto axis = normalized_axis(node, node.attr_int("axis", 0), node.inputs[0]);
  if (!axis || *axis == 0) return fail(node, "it concatenates along the batch axis (or an axis of unknown rank)");
  bool unit = true;
  for (size_t i = first.role == R::kRowIndex ? 1 : 0; i < node.inputs.size(); ++i) {
    const ValueRole v = role(node.inputs[i]);
    if (v.role != R::kRows) return fail(node, "input '" + node.inputs[i] + "' is not a tensor of rows");
    unit = unit && v.unit;
  }
  if (first.role != R::kRowIndex) return ValueRole{R::kRows, unit};
  auto it = dims_.find(node.inputs[0]);
  const bool last_axis_one = it != dims_.end() && *axis == static_cast<int64_t>(it->second.size()) - 1 && it->second.back().value == 1;
  if (last_axis_one && unit) return ValueRole{R::kGatherIndex};
  return fail(node, "it joins row numbers to other values in a way that is not a GatherND index (b, rest)");
}

// MatMul and its quantized forms: row-wise when the batch operand keeps dim 0 outside the
// contraction (rank >= 2 for A, >= 3 for B) and a batch-free operand broadcasts over it.
Result<ValueRole> RoleFinder::matmul_rule(const ir::Node& node) {
  const std::string& a = node.inputs[0];
  const std::string& b = node.inputs[1];
  const ValueRole ra = role(a), rb = role(b);
  for (size_t i = 2; i < node.inputs.size(); ++i)
    if (node.has_input(i) && role(node.inputs[i]).role != R::kFree) return fail(node, "a scale or zero point depends on the batch");
  auto na = rank(a), nb = node.op_type == "MatMulNBits" ? std::optional<int>(2) : rank(b);
  if (!na || !nb) return fail(node, "the rank of an input is unknown");
  if (ra.role == R::kRows && rb.role == R::kFree && *na >= 2 && (*nb < *na || (*nb == *na && (*nb <= 2 || dim0_is_one(b)))))
    return ra;
  if (ra.role == R::kFree && rb.role == R::kRows && *nb >= 3 && (*na < *nb || dim0_is_one(a))) return rb;
  if (ra.role == R::kRows && rb.role == R::kRows && ra.unit && rb.unit && *na == *nb && *na >= 3) return ra;
  return fail(node, "its batch operand's dim 0 would be contracted or broadcast");
}

Result<ValueRole> RoleFinder::gather_nd_rule(size_t index) {
  const ir::Node& node = graph_.nodes[index];
  const ValueRole data = role(node.inputs[0]), idx = role(node.inputs[1]);
  if (node.attr_int("batch_dims", 0) != 0 || idx.role != R::kGatherIndex)
    return fail(node, "its indices are not (row number, batch-free index)");
  if (data.role == R::kRows && data.unit) return ValueRole{R::kRows, true};
  if (data.role == R::kFree && dim0_is_one(node.inputs[0]) && rank(node.inputs[0])) {
    a_.fixes.push_back({BatchFix::kBroadcastGatherData, index});
    return ValueRole{R::kRows, true};
  }
  return fail(node, "its data's dim 0 is neither the batch nor 1");
}

// Transpose, Split, Slice, Squeeze, Unsqueeze, Softmax, LayerNormalization, Gather, Gemm: row-wise
// when they leave axis 0 alone.
Result<ValueRole> RoleFinder::axis_op_rule(const ir::Node& node) {
  const std::string& op = node.op_type;
  const std::string& x = node.inputs[0];
  const ValueRole v = role(x);
  for (size_t i = 1; i < node.inputs.size(); ++i)
    if (node.has_input(i) && role(node.inputs[i]).role != R::kFree && !(op == "Gather" && i == 1))
      return fail(node, "input '" + node.inputs[i] + "' depends on the batch");
  if (op == "Gather") {
    auto axis = normalized_axis(node, node.attr_int("axis", 0), x);
    if (v.role == R::kFree && axis && *axis == 0 && role(node.inputs[1]).role == R::kRows) return role(node.inputs[1]);
    if (v.role == R::kRows && axis && *axis > 0 && role(node.inputs[1]).role == R::kFree) return v;
    return fail(node, "it gathers along the batch axis");
  }
  const bool keeps_kind = v.role == R::kRows || ((v.role == R::kRowIndex || v.role == R::kDimOnly) && (op == "Unsqueeze" || op == "Squeeze"));
  if (!keeps_kind) return fail(node, "input '" + x + "' is not a tensor of rows");
  if (op == "Gemm")
    return node.attr_int("transA", 0) == 0 && role(node.inputs[1]).role == R::kFree ? Result<ValueRole>(v) : fail(node, "transA or a batch weight");
  if (op == "Transpose") {
    auto perm = node.attr_ints("perm");
    return !perm.empty() && perm[0] == 0 ? Result<ValueRole>(v) : fail(node, "its permutation moves axis 0");
  }
  std::optional<std::vector<int64_t>> ax;
  if (op == "Unsqueeze" || op == "Squeeze") ax = axes(node, 1, x, 0);
  else if (op == "Slice") ax = node.has_input(3) ? axes(node, 3, x, 0) : std::nullopt;
  else if (op == "Split") ax = std::vector<int64_t>{node.attr_int("axis", 0)};
  else ax = std::vector<int64_t>{node.attr_int("axis", op == "Softmax" || op == "LogSoftmax" || op == "LayerNormalization" ? -1 : 1)};
  if (ax && op != "Unsqueeze" && op != "Squeeze" && op != "Slice")
    for (auto& a : *ax) {
      auto n = normalized_axis(node, a, x);
      if (!n) return fail(node, "the rank of '" + x + "' is unknown");
      a = *n;
    }
  if (!ax || ax->empty() || std::count(ax->begin(), ax->end(), 0)) return fail(node, "it works on axis 0, or its axes are not constant");
  return v;
}

// Convolutions, pooling and inference normalizations treat dim 0 as the batch by definition;
// Flatten keeps it apart when its axis is past 0. Only input 0 may carry the batch.
Result<ValueRole> RoleFinder::per_sample_rule(const ir::Node& node) {
  const ValueRole x = role(node.inputs[0]);
  for (size_t i = 1; i < node.inputs.size(); ++i)
    if (node.has_input(i) && role(node.inputs[i]).role != R::kFree) return fail(node, "input '" + node.inputs[i] + "' depends on the batch");
  if (x.role != R::kRows || !x.unit) return fail(node, "its input's dim 0 is not the batch");
  if (node.op_type == "BatchNormalization" && node.attr_int("training_mode", 0) != 0) return fail(node, "training-mode statistics span the batch");
  if (node.op_type == "Flatten") {
    auto axis = normalized_axis(node, node.attr_int("axis", 1), node.inputs[0]);
    if (!axis || *axis == 0) return fail(node, "it flattens the batch axis");
  }
  return x;
}

Result<std::vector<ValueRole>> RoleFinder::rule(size_t index) {
  const ir::Node& node = graph_.nodes[index];
  const std::string& op = node.op_type;
  bool all_free = true;
  for (const auto& in : node.inputs) all_free = all_free && (in.empty() || role(in).role == R::kFree);
  std::vector<ValueRole> free(node.outputs.size());
  for (const auto& attr : node.attributes) {
    std::vector<const ir::Graph*> bodies;
    if (attr.g) bodies.push_back(attr.g.get());
    for (const auto& g : attr.graphs) bodies.push_back(g.get());
    for (const ir::Graph* body : bodies)
      for (const auto& name : names_read(*body)) all_free = all_free && role(name).role == R::kFree;
    if (!bodies.empty() && !all_free) return fail(node, "a subgraph reads batch values");
  }
  if (all_free || node.outputs.empty()) return free;
  static const std::map<std::string, size_t> kMinInputs = {{"Reshape", 2}, {"Expand", 2},      {"Range", 3},         {"Gather", 2},
                                                           {"GatherND", 2}, {"MatMul", 2},      {"MatMulInteger", 2}, {"MatMulNBits", 2},
                                                           {"Gemm", 2},     {"Concat", 1},      {"Shape", 1}};
  if (auto it = kMinInputs.find(op); (it != kMinInputs.end() && node.inputs.size() < it->second) || node.inputs.empty())
    return fail(node, "it has too few inputs");
  if (!node.domain.empty() && node.domain != "ai.onnx" && op != "MatMulNBits") return fail(node, "an op outside the ONNX domain");
  Result<ValueRole> r = ValueRole{};
  const R first = role(node.inputs[0]).role;
  if (op == "Shape") r = shape_rule(node);
  else if (op == "Reshape") r = reshape_rule(index);
  else if (first == R::kCount || first == R::kShape || op == "Range") r = op == "Concat" ? concat_rule(node) : count_rule(node);
  else if (op == "Expand") r = expand_rule(node);
  else if (op == "Concat") r = concat_rule(node);
  else if (op == "GatherND") r = gather_nd_rule(index);
  else if (op == "MatMul" || op == "MatMulInteger" || op == "MatMulNBits") r = matmul_rule(node);
  else if (kElementwise.count(op) || kUnary.count(op)) r = elementwise(node);
  else if (op == "Transpose" || op == "Split" || op == "Slice" || op == "Squeeze" || op == "Unsqueeze" || op == "Softmax" ||
           op == "LogSoftmax" || op == "LayerNormalization" || op == "Gather" || op == "Gemm")
    r = axis_op_rule(node);
  else if (kPerSample.count(op) || op == "Flatten") r = per_sample_rule(node);
  else if (op == "DynamicQuantizeLinear") return fail(node, "its scale is computed over the whole tensor, so rows would change each other");
  else return fail(node, "no batch rule for this op");
  if (!r.ok()) return r.status();
  return std::vector<ValueRole>(node.outputs.size(), *r);
}

Result<BatchAnalysis> RoleFinder::run() {
  for (const ir::ValueInfo* in : graph_.feed_inputs()) {
    if (!in->has_shape || in->dims.empty())
      return unsupported("free-batch: input '" + in->name + "' has no shape with a batch dimension");
    const ir::Dim& d0 = in->dims[0];
    if (d0.value != 1 && d0.param.empty()) return unsupported("free-batch: input '" + in->name + "' has a fixed dim 0 of " + std::to_string(d0.value));
    if (a_.batch_param.empty()) a_.batch_param = d0.param.empty() ? "batch" : d0.param;
    a_.roles[in->name] = {R::kRows, true};
    a_.batch_inputs.push_back(in->name);
  }
  if (a_.batch_inputs.empty()) return unsupported("free-batch: the model has no inputs to batch");
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    EMBER_ASSIGN_OR_RETURN(auto outs, rule(i));
    for (size_t k = 0; k < outs.size(); ++k)
      if (!graph_.nodes[i].outputs[k].empty()) a_.roles[graph_.nodes[i].outputs[k]] = outs[k];
  }
  for (const auto& out : graph_.outputs) {
    ValueRole v = role(out.name);
    // A declared output dim 0 of 1 or the batch's name is exactly the batch (a Flatten or a
    // Reshape to [-1, n] may have left that unproven).
    if (v.role == R::kRows && unit_at_batch_one(out.name)) v.unit = true;
    a_.roles[out.name] = v;
    if (v.role != R::kRows || !v.unit)
      return unsupported("free-batch: output '" + out.name + "' does not have the batch as its dim 0 (a value shared by all rows, or rows folded together)");
  }
  return a_;
}

}  // namespace

Result<BatchAnalysis> analyze_batch_roles(const ir::Graph& graph) { return RoleFinder(graph).run(); }

}  // namespace ember::passes
