#include "runtime/optimizer/rewrite_integer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ir/builders.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/optimizer/pattern_rewriter.h"

namespace ember::runtime {
namespace {

using ir::Node;

bool is_byte(DType d) { return d == DType::kI8 || d == DType::kU8; }
bool is_nibble(DType d) { return d == DType::kI4 || d == DType::kU4; }
constexpr int64_t kOnnxUint8 = 2;

class Rewriter : public PatternRewriter {
 public:
  Rewriter(ir::Model& model, const KernelRegistry& registry) : PatternRewriter(model) {
    has_int8_ = registry.find(fused::kInt8MatMul, fused::kDomain, 1) != nullptr;
    has_integer_ = registry.find(fused::kMatMulIntegerPacked, fused::kDomain, 1) != nullptr;
    has_int4_ = registry.find(fused::kInt4MatMul, fused::kDomain, 1) != nullptr;
    has_gather_dq_ = registry.find(fused::kGatherDequantize, fused::kDomain, 1) != nullptr;
  }

  Result<IntegerRewriteStats> run() {
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const int index = static_cast<int>(i);
      if (claimed_.count(index)) continue;
      const Node& n = graph_.nodes[i];
      if (is_default_op(n, "MatMulInteger")) {
        if (!ort_dynamic(index) && !row_symmetric(index)) generic_matmul_integer(index);
      } else if (is_default_op(n, "MatMul") || is_default_op(n, "Gemm")) {
        EMBER_TRY(qdq_weight(index));
      } else if (n.op_type == "MatMulNBits" && n.domain == "com.microsoft") {
        matmul_nbits(index);
      } else if (is_default_op(n, "Gather")) {
        qdq_gather(index);
      }
    }
    stats_.nodes_removed = apply();
    return stats_;
  }

 private:
  bool ort_dynamic(int i) {
    if (!has_int8_) return false;
    const Node& mi = graph_.nodes[size_t(i)];
    const Tensor* w = constant(input_or_empty(mi, 1));
    if (!w || w->rank() != 2 || !is_byte(w->dtype())) return false;
    if (mi.has_input(3) && !constant(mi.inputs[3])) return false;
    const int64_t N = w->dim(1);
    const int d = producer_index(mi.inputs[0]);
    if (d < 0 || !is_default_op(graph_.nodes[size_t(d)], "DynamicQuantizeLinear")) return false;
    const Node& dql = graph_.nodes[size_t(d)];
    if (dql.outputs.size() < 3 || !mi.has_input(2) || mi.inputs[2] != dql.outputs[2]) return false;
    const int c = sole_reader(mi.outputs[0]);
    if (c < 0 || !is_default_op(graph_.nodes[size_t(c)], "Cast") || graph_.nodes[size_t(c)].attr_int("to", 0) != 1) return false;
    const Node& cast = graph_.nodes[size_t(c)];
    const int m1 = sole_reader(cast.outputs[0]);
    if (m1 < 0 || !is_default_op(graph_.nodes[size_t(m1)], "Mul")) return false;
    const Node& mul = graph_.nodes[size_t(m1)];
    const int m0 = producer_index(other_input(mul, cast.outputs[0]));
    if (m0 < 0 || !is_default_op(graph_.nodes[size_t(m0)], "Mul")) return false;
    const std::string w_scale = other_input(graph_.nodes[size_t(m0)], dql.outputs[1]);
    const Tensor* ws = constant(w_scale);
    if (!ws || ws->dtype() != DType::kF32 || (ws->numel() != 1 && ws->numel() != N)) return false;

    int last = m1;
    std::string bias;
    const int a = sole_reader(mul.outputs[0]);
    if (a >= 0 && is_default_op(graph_.nodes[size_t(a)], "Add")) {
      bias = bias_of(graph_.nodes[size_t(a)], mul.outputs[0], N);
      if (!bias.empty()) last = a;
    }
    Node fused;
    fused.name = mi.name + "/int8";
    fused.op_type = fused::kInt8MatMul;
    fused.inputs = {dql.inputs[0], mi.inputs[1], w_scale, input_or_empty(mi, 3), bias};
    fused.outputs = {graph_.nodes[size_t(last)].outputs[0]};
    fused.attributes = {ir::string_attribute("act", "tensor"), ir::int_attribute("trans_b", 0)};
    std::vector<int> claimed = {i, c, m1};
    if (last != m1) claimed.push_back(last);
    emit(last, std::move(fused), claimed, {d, m0});
    ++stats_.int8_matmuls;
    return true;
  }

  // A one-element constant of type `dtype` holding `value` (any value when `value` is NaN).
  bool scalar_constant(const std::string& v, DType dtype, double value) const {
    const Tensor* t = one_element(v, dtype);
    if (!t) return false;
    if (value != value) return true;
    const Result<std::vector<float>> f = t->to_floats();
    return f.ok() && double((*f)[0]) == value;
  }
  // The input of binary node `n` that is not a one-element f32 constant equal to `value`
  // (the other one is); empty when neither is.
  std::string beside_constant(const Node& n, double value) const {
    if (n.inputs.size() != 2) return {};
    for (int side : {0, 1})
      if (scalar_constant(n.inputs[size_t(side)], DType::kF32, value)) return n.inputs[size_t(1 - side)];
    return {};
  }

  // The per-row symmetric quantization chain that activation_ort.h writes, read back from
  // the uint8 value it makes:
  //   s = Max(Div(ReduceMax(Abs(X), axes = [-1], keepdims = 1), 127), min_scale)
  //   Xq = Cast<uint8>(Add(Round(Div(X, s)), 128))
  struct RowSymmetricSource {
    std::string x, scale;
    float min_scale = 0.0f;
    std::vector<int> nodes;
  };
  bool row_symmetric_source(const std::string& xq, RowSymmetricSource& src) const {
    auto step = [&](const std::string& value, const char* op) -> const Node* {
      const int p = producer_index(value);
      if (p < 0 || !is_default_op(node(p), op)) return nullptr;
      src.nodes.push_back(p);
      return &node(p);
    };
    const Node* cast = step(xq, "Cast");
    if (!cast || cast->attr_int("to", 0) != kOnnxUint8) return false;
    const Node* add = step(cast->inputs[0], "Add");
    const Node* round = add ? step(beside_constant(*add, 128.0), "Round") : nullptr;
    const Node* div = round ? step(round->inputs[0], "Div") : nullptr;
    if (!div || div->inputs.size() != 2) return false;
    src.x = div->inputs[0];
    src.scale = div->inputs[1];
    const Node* floor = step(src.scale, "Max");
    if (!floor || floor->inputs.size() != 2) return false;
    for (int side : {0, 1}) {
      const std::string& c = floor->inputs[size_t(side)];
      if (!scalar_constant(c, DType::kF32, std::nan(""))) continue;
      src.min_scale = (*constant(c)->to_floats())[0];
      const Node* levels = step(floor->inputs[size_t(1 - side)], "Div");
      if (!levels || levels->inputs.size() != 2 || !scalar_constant(levels->inputs[1], DType::kF32, 127.0)) return false;
      const Node* reduce = step(levels->inputs[0], "ReduceMax");
      if (!reduce || reduce->attr_int("keepdims", 1) != 1) return false;
      const Tensor* axes_input = constant(input_or_empty(*reduce, 1));
      std::vector<int64_t> axes = reduce->attr_ints("axes");
      if (axes_input) {
        Result<std::vector<int64_t>> read = axes_input->to_int64s();
        if (!read.ok()) return false;
        axes = *read;
      }
      if (axes != std::vector<int64_t>{-1}) return false;
      const Node* abs = step(reduce->inputs[0], "Abs");
      return abs && abs->inputs[0] == src.x && src.min_scale > 0.0f;
    }
    return false;
  }

  // Ember's own per-row dynamic INT8 (passes/quantize/activation_ort.h):
  //   MatMulInteger(Xq, W uint8, 128, w_zp) -> Cast(float) -> Mul(., s) -> Mul(., w_scale) [-> Add(., bias)]
  //     => Int8MatMul{act=row_symmetric}(X, W, w_scale, w_zp, bias)   (the same integers)
  bool row_symmetric(int i) {
    if (!has_int8_) return false;
    const Node& mi = node(i);
    const Tensor* w = constant(input_or_empty(mi, 1));
    if (!w || w->rank() != 2 || !is_byte(w->dtype())) return false;
    if (!mi.has_input(2) || !scalar_constant(mi.inputs[2], DType::kU8, 128.0)) return false;
    if (mi.has_input(3) && !constant(mi.inputs[3])) return false;
    const int64_t N = w->dim(1);
    RowSymmetricSource src;
    if (!row_symmetric_source(mi.inputs[0], src)) return false;
    const int c = sole_reader(mi.outputs[0]);
    if (c < 0 || !is_default_op(node(c), "Cast") || node(c).attr_int("to", 0) != 1) return false;
    const int m1 = sole_reader(node(c).outputs[0]);
    if (m1 < 0 || !is_default_op(node(m1), "Mul") || other_input(node(m1), node(c).outputs[0]) != src.scale) return false;
    const int m2 = sole_reader(node(m1).outputs[0]);
    if (m2 < 0 || !is_default_op(node(m2), "Mul")) return false;
    const std::string w_scale = other_input(node(m2), node(m1).outputs[0]);
    const Tensor* ws = constant(w_scale);
    if (!ws || ws->dtype() != DType::kF32 || ws->rank() > 1 || (ws->numel() != 1 && ws->numel() != N)) return false;
    int last = m2;
    std::string bias;
    const int a = sole_reader(node(m2).outputs[0]);
    if (a >= 0 && is_default_op(node(a), "Add")) {
      bias = bias_of(node(a), node(m2).outputs[0], N);
      if (!bias.empty()) last = a;
    }
    Node fused;
    fused.name = mi.name + "/int8";
    fused.op_type = fused::kInt8MatMul;
    fused.inputs = {src.x, mi.inputs[1], w_scale, input_or_empty(mi, 3), bias};
    while (fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.outputs = {node(last).outputs[0]};
    fused.attributes = {ir::string_attribute("act", "row_symmetric"), ir::int_attribute("trans_b", 0),
                        ir::float_attribute("min_scale", src.min_scale)};
    std::vector<int> claimed = {i, c, m1, m2};
    if (last != m2) claimed.push_back(last);
    emit(last, std::move(fused), claimed, src.nodes);
    ++stats_.int8_matmuls;
    return true;
  }

  void generic_matmul_integer(int i) {
    if (!has_integer_) return;
    const Node& mi = graph_.nodes[size_t(i)];
    const Tensor* b = constant(input_or_empty(mi, 1));
    if (!b || b->rank() != 2 || !is_byte(b->dtype())) return;
    if (mi.has_input(3) && !constant(mi.inputs[3])) return;
    if (mi.has_input(2)) {
      // The packed kernel takes one A zero point: a constant scalar or DynamicQuantizeLinear's.
      const Tensor* zp = constant(mi.inputs[2]);
      const Node* p = producer(mi.inputs[2]);
      const bool scalar = (zp && zp->numel() == 1) ||
                          (p && is_default_op(*p, "DynamicQuantizeLinear") && p->outputs.size() > 2 && p->outputs[2] == mi.inputs[2]);
      if (!scalar) return;
    }
    Node fused = mi;
    fused.name = mi.name + "/packed";
    fused.op_type = fused::kMatMulIntegerPacked;
    emit(i, std::move(fused), {i}, {});
    ++stats_.matmul_integers;
  }

  // How a float activation feeding an Int8MatMul is quantized: the inputs and attribute.
  struct ActSource {
    std::string x, act = "row", x_scale, x_zero_point;
    std::vector<int> maybe_dead;
  };
  ActSource activation_source(const std::string& x) const {
    ActSource s;
    s.x = x;
    const int dx = producer_index(x);
    if (dx < 0 || !is_default_op(graph_.nodes[size_t(dx)], "DequantizeLinear")) return s;
    const Node& deq = graph_.nodes[size_t(dx)];
    const int src = producer_index(deq.inputs[0]);
    if (src < 0) return s;
    const Node& q = graph_.nodes[size_t(src)];
    if (is_default_op(q, "DynamicQuantizeLinear") && q.outputs.size() >= 3 && deq.inputs.size() >= 3 &&
        deq.inputs[1] == q.outputs[1] && deq.inputs[2] == q.outputs[2]) {
      s.x = q.inputs[0];
      s.act = "tensor";
      s.maybe_dead = {dx, src};
      return s;
    }
    if (is_default_op(q, "QuantizeLinear") && same_constant(q, deq, 1) && same_constant(q, deq, 2)) {
      const Tensor* scale = constant(q.inputs[1]);
      const Tensor* zp = constant(input_or_empty(q, 2));
      if (!scale || scale->numel() != 1 || (q.has_input(2) && (!zp || zp->numel() != 1 || !is_byte(zp->dtype())))) return s;
      if (!q.has_input(2) && q.attr_int("output_dtype", 0) != 0) return s;
      s.x = q.inputs[0];
      s.act = "static";
      s.x_scale = q.inputs[1];
      s.x_zero_point = input_or_empty(q, 2);
      s.maybe_dead = {dx, src};
    }
    return s;
  }
  // Input `i` of Q and DQ is the same value, or two constants with the same content.
  bool same_constant(const Node& q, const Node& dq, size_t i) const {
    const std::string a = input_or_empty(q, i), b = input_or_empty(dq, i);
    if (a == b) return true;
    const Tensor* ta = constant(a);
    const Tensor* tb = constant(b);
    return ta && tb && ta->same_content(*tb);
  }

  Status qdq_weight(int i) {
    const Node& mm = graph_.nodes[size_t(i)];
    const bool gemm = mm.op_type == "Gemm";
    if (mm.inputs.size() < 2) return Status::Ok();
    if (gemm && mm.attr_int("transA", 0) != 0) return Status::Ok();
    bool trans_b = gemm && mm.attr_int("transB", 0) != 0;
    int dq_index = producer_index(mm.inputs[1]);
    // A 2-D Transpose between the DequantizeLinear and the product (a tied LM head reads the
    // embedding table as W^T) is the other trans_b.
    int transpose = -1;
    if (dq_index >= 0 && is_default_op(graph_.nodes[size_t(dq_index)], "Transpose") &&
        graph_.nodes[size_t(dq_index)].attr_ints("perm") == std::vector<int64_t>{1, 0} && sole_reader(mm.inputs[1]) == i) {
      transpose = dq_index;
      dq_index = producer_index(graph_.nodes[size_t(transpose)].inputs.at(0));
      trans_b = !trans_b;
    }
    if (dq_index < 0 || !is_default_op(graph_.nodes[size_t(dq_index)], "DequantizeLinear")) return Status::Ok();
    const Node& dq = graph_.nodes[size_t(dq_index)];
    const Tensor* wq = constant(dq.inputs[0]);
    const Tensor* scale = constant(input_or_empty(dq, 1));
    if (!wq || !scale || wq->rank() != 2 || scale->dtype() != DType::kF32) return Status::Ok();
    if (dq.has_input(2) && !constant(dq.inputs[2])) return Status::Ok();
    if (dq.attr_int("output_dtype", 0) > 1) return Status::Ok();
    const int64_t N = trans_b ? wq->dim(0) : wq->dim(1);
    const int64_t axis = dq.attr_int("axis", 1) < 0 ? dq.attr_int("axis", 1) + 2 : dq.attr_int("axis", 1);
    const int64_t block_size = dq.attr_int("block_size", 0);

    // Which fused op fits: int8 per tensor / per output channel, or int4 blocked along K.
    const bool int8 = is_byte(wq->dtype()) && has_int8_ && block_size == 0 &&
                      (scale->numel() == 1 || (scale->rank() == 1 && scale->numel() == N && axis == (trans_b ? 0 : 1)));
    const bool int4 = is_nibble(wq->dtype()) && has_int4_ && block_size > 0 && block_size % 32 == 0 &&
                      axis == (trans_b ? 1 : 0);
    if (!int8 && !int4) return Status::Ok();

    // Gemm: Y = alpha * X W + beta * C with C a constant of N values (folded into a bias).
    float alpha = 1.0f;
    std::string bias;
    if (gemm) {
      alpha = mm.attr_float("alpha", 1.0f);
      if (mm.has_input(2)) {
        const Tensor* c = constant(mm.inputs[2]);
        if (!c || c->dtype() != DType::kF32 || c->numel() != N || c->rank() > 2) return Status::Ok();
        bias = mm.inputs[2];
        const float beta = mm.attr_float("beta", 1.0f);
        if (beta != 1.0f) {
          EMBER_ASSIGN_OR_RETURN(std::vector<float> values, c->to_floats());
          for (float& v : values) v *= beta;
          bias = fresh_name(mm.name + "/bias");
          graph_.set_initializer(bias, Tensor::from_vector<float>({N}, values));
        }
      }
    }

    Node fused;
    std::vector<int> maybe_dead = {dq_index, transpose};
    if (int8) {
      const ActSource act = activation_source(mm.inputs[0]);
      fused.op_type = fused::kInt8MatMul;
      fused.inputs = {act.x, dq.inputs[0], dq.inputs[1], input_or_empty(dq, 2), bias, act.x_scale, act.x_zero_point};
      fused.attributes = {ir::string_attribute("act", act.act), ir::int_attribute("trans_b", trans_b ? 1 : 0), ir::float_attribute("alpha", alpha)};
      maybe_dead.insert(maybe_dead.end(), act.maybe_dead.begin(), act.maybe_dead.end());
      ++stats_.int8_matmuls;
    } else {
      fused.op_type = fused::kInt4MatMul;
      fused.inputs = {mm.inputs[0], dq.inputs[0], dq.inputs[1], input_or_empty(dq, 2), bias};
      fused.attributes = {ir::string_attribute("layout", trans_b ? "nk" : "kn"), ir::int_attribute("block_size", block_size),
                          ir::float_attribute("alpha", alpha)};
      ++stats_.int4_matmuls;
    }
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.name = mm.name + (fused.op_type == fused::kInt4MatMul ? "/int4" : "/int8");
    fused.outputs = {mm.outputs[0]};
    emit(i, std::move(fused), {i}, maybe_dead);
    return Status::Ok();
  }

  void matmul_nbits(int i) {
    if (!has_int4_) return;
    const Node& mm = graph_.nodes[size_t(i)];
    const int64_t block = mm.attr_int("block_size", 0);
    if (mm.attr_int("bits", 4) != 4 || block < 32 || block % 32 != 0 || mm.has_input(4)) return;
    if (!constant(input_or_empty(mm, 1)) || !constant(input_or_empty(mm, 2))) return;
    if (mm.has_input(3)) {
      const Tensor* zp = constant(mm.inputs[3]);
      if (!zp || zp->dtype() != DType::kU8) return;
    }
    if (mm.has_input(5) && !constant(mm.inputs[5])) return;
    Node fused = mm;
    fused.name = mm.name + "/int4";
    fused.op_type = fused::kInt4MatMul;
    fused.attributes.push_back(ir::string_attribute("layout", "nbits"));
    emit(i, std::move(fused), {i}, {});
    ++stats_.int4_matmuls;
  }

  // Gather(DequantizeLinear(W constant 2-D), indices) on axis 0 => GatherDequantize: the
  // table stays quantized; without this, folding would dequantize all of it at load.
  void qdq_gather(int i) {
    if (!has_gather_dq_) return;
    const Node& g = graph_.nodes[size_t(i)];
    if (g.inputs.size() != 2 || g.attr_int("axis", 0) != 0) return;
    const int d = producer_index(g.inputs[0]);
    if (d < 0 || !is_default_op(graph_.nodes[size_t(d)], "DequantizeLinear")) return;
    const Node& dq = graph_.nodes[size_t(d)];
    const Tensor* w = constant(input_or_empty(dq, 0));
    if (!w || w->rank() != 2 || !(is_byte(w->dtype()) || is_nibble(w->dtype())) || !constant(input_or_empty(dq, 1))) return;
    if (dq.has_input(2) && !constant(dq.inputs[2])) return;
    Node fused;
    fused.name = g.name + "/dequantize";
    fused.op_type = fused::kGatherDequantize;
    fused.inputs = {dq.inputs[0], dq.inputs[1], input_or_empty(dq, 2), g.inputs[1]};
    fused.outputs = {g.outputs.at(0)};
    fused.attributes = {ir::int_attribute("axis", dq.attr_int("axis", 1)), ir::int_attribute("block_size", dq.attr_int("block_size", 0))};
    emit(i, std::move(fused), {i}, {d});
    ++stats_.gather_dequantizes;
  }

  bool has_int8_ = false, has_integer_ = false, has_int4_ = false, has_gather_dq_ = false;
  IntegerRewriteStats stats_;
};

// After the rewrites above: Int8MatMuls that quantize the same X the same way (attention's
// Q, K and V projections in onnxruntime's dynamic INT8 models) become one Int8MatMulGroup,
// which quantizes X once; Int4MatMuls of one X likewise become one Int4MatMulGroup. Each takes
// the place of the first of its members: X and the constant weights exist there, and every
// output is then made no later than before.
class GroupRewriter : public PatternRewriter {
 public:
  explicit GroupRewriter(ir::Model& model) : PatternRewriter(model) {}

  int run() {
    std::map<std::tuple<std::string, std::string, float>, std::vector<int>> groups;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& n = node(int(i));
      if (n.op_type != fused::kInt8MatMul || n.domain != fused::kDomain || n.inputs.empty()) continue;
      const std::string act = n.attr_string("act", "tensor");
      if (act == "static" || n.attr_int("trans_b", 0) != 0 || n.attr_float("alpha", 1.0f) != 1.0f ||
          n.attr_int("relu", 0) != 0 || !n.attr_string("activation", "").empty())
        continue;
      groups[{n.inputs[0], act, n.attr_float("min_scale", 0.0f)}].push_back(int(i));
    }
    return emit_groups(groups, fused::kInt8MatMulGroup, [](const auto& key) {
      std::vector<ir::Attribute> attrs = {ir::string_attribute("act", std::get<1>(key))};
      if (std::get<1>(key) == "row_symmetric") attrs.push_back(ir::float_attribute("min_scale", std::get<2>(key)));
      return attrs;
    });
  }

  // Int4MatMuls of one X with the same layout (kn or nk), block_size and alpha (the group's
  // kernel reads them from its own attributes) become one Int4MatMulGroup.
  int group_int4() {
    std::map<std::tuple<std::string, std::string, int64_t, float>, std::vector<int>> groups;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& n = node(int(i));
      if (n.op_type != fused::kInt4MatMul || n.domain != fused::kDomain || n.inputs.empty()) continue;
      const std::string layout = n.attr_string("layout", "");
      if (layout != "kn" && layout != "nk") continue;
      groups[{n.inputs[0], layout, n.attr_int("block_size", 0), n.attr_float("alpha", 1.0f)}].push_back(int(i));
    }
    return emit_groups(groups, fused::kInt4MatMulGroup, [](const auto& key) {
      return std::vector<ir::Attribute>{ir::string_attribute("layout", std::get<1>(key)),
                                        ir::int_attribute("block_size", std::get<2>(key)),
                                        ir::float_attribute("alpha", std::get<3>(key))};
    });
  }

  void finish() { apply(); }

 private:
  // One `op` node per group of two or more members, keyed by X first: X, then each member's
  // inputs 1..4, and each member's output; it takes the first member's place.
  template <class Key, class Attributes>
  int emit_groups(const std::map<Key, std::vector<int>>& groups, const char* op, Attributes attributes) {
    int made = 0;
    for (const auto& [key, members] : groups) {
      if (members.size() < 2) continue;
      Node fused;
      fused.name = node(members[0]).name + "/group";
      fused.op_type = op;
      fused.inputs = {std::get<0>(key)};
      for (int m : members) {
        for (size_t k = 1; k <= 4; ++k) fused.inputs.push_back(input_or_empty(node(m), k));
        fused.outputs.push_back(node(m).outputs.at(0));
      }
      fused.attributes = attributes(key);
      emit(members[0], std::move(fused), members, {});
      ++made;
    }
    return made;
  }
};

}  // namespace

Result<IntegerRewriteStats> rewrite_integer_kernels(ir::Model& model, const KernelRegistry& registry) {
  EMBER_ASSIGN_OR_RETURN(IntegerRewriteStats stats, Rewriter(model, registry).run());
  GroupRewriter groups(model);
  if (registry.find(fused::kInt8MatMulGroup, fused::kDomain, 1)) stats.int8_groups = groups.run();
  if (registry.find(fused::kInt4MatMulGroup, fused::kDomain, 1)) stats.int4_groups = groups.group_int4();
  groups.finish();
  return stats;
}

}  // namespace ember::runtime
