#include "runtime/optimizer/rewrite_float.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "ir/builders.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/optimizer/pattern_rewriter.h"
#include "runtime/optimizer/rewrite_column_split.h"

namespace ember::runtime {
namespace {

using ir::Node;

class FloatFuser : public PatternRewriter {
 public:
  FloatFuser(ir::Model& model, const KernelRegistry& registry, FloatFusionScope scope) : PatternRewriter(model) {
    const bool all = scope == FloatFusionScope::kAll;
    has_matmul_bias_ = all && registry.find(fused::kMatMulBias, fused::kDomain, 1) != nullptr;
    has_gelu_ = registry.find(fused::kGelu, fused::kDomain, 1) != nullptr;
    has_permuted_ = all && registry.find(fused::kPermutedMatMul, fused::kDomain, 1) != nullptr;
    has_add_ln_ = all && registry.find(fused::kAddLayerNorm, fused::kDomain, 1) != nullptr;
    has_add_softmax_ = all && registry.find(fused::kAddSoftmax, fused::kDomain, 1) != nullptr;
    for (const auto* list : {&graph_.inputs, &graph_.outputs, &graph_.value_info})
      for (const ir::ValueInfo& v : *list) {
        if (v.has_shape) ranks_[v.name] = static_cast<int>(v.dims.size());
        if (v.elem_type == DType::kF32) f32_values_.insert(v.name);
      }
  }

  FloatFusionStats run() {
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const int index = static_cast<int>(i);
      if (claimed_.count(index)) continue;
      const Node& n = node(index);
      if (has_matmul_bias_ && is_default_op(n, "MatMul")) matmul_bias(index);
      if (has_gelu_ && is_default_op(n, "Erf")) gelu(index);
      if (has_gelu_ && is_default_op(n, "Tanh")) gelu_tanh(index);
      if (has_permuted_ && is_default_op(n, "MatMul")) permuted_matmul(index);
      if (has_add_ln_ && is_default_op(n, "LayerNormalization")) add_layer_norm(index);
      if (has_add_softmax_ && is_default_op(n, "Softmax")) add_softmax(index);
    }
    apply();
    return stats_;
  }

 private:
  // Whether `value` is a one-element f32 constant of rank <= 1 (so it cannot broadcast the
  // result to a higher rank) within 1e-5 (relative) of `expected`.
  bool is_scalar(const std::string& value, double expected) const {
    const Tensor* t = scalar_f32(value);
    if (!t) return false;
    const double v = t->data<float>()[0];
    return std::fabs(v - expected) <= 1e-5 * std::fabs(expected);
  }
  // A one-element f32 constant of rank <= 1, else null.
  const Tensor* scalar_f32(const std::string& value) const {
    const Tensor* t = one_element(value, DType::kF32);
    return t && t->rank() <= 1 ? t : nullptr;
  }
  // Whether `value` is declared float32 (graph inputs, outputs, value_info) or is an f32 constant.
  bool known_f32(const std::string& value) const {
    const Tensor* t = constant(value);
    return f32_values_.count(value) > 0 || (t && t->dtype() == DType::kF32);
  }
  // The sole reader of `value` if it is the default-domain `op`, else -1.
  int sole_reader_op(const std::string& value, const char* op) const {
    const int r = sole_reader(value);
    return r >= 0 && is_default_op(node(r), op) ? r : -1;
  }

  void matmul_bias(int i) {
    const Node& mm = node(i);
    const Tensor* w = constant(input_or_empty(mm, 1));
    if (mm.inputs.size() != 2 || !w || w->dtype() != DType::kF32 || w->rank() != 2 || w->dim(0) == 0 || w->dim(1) == 0) return;
    const int a = sole_reader_op(mm.outputs.at(0), "Add");
    if (a < 0) return;
    const std::string bias = bias_of(node(a), mm.outputs[0], w->dim(1));
    // Only a 1-D bias: a [1, N] one would turn a 1-D product into [1, N].
    if (bias.empty() || constant(bias)->rank() != 1) return;
    Node fused;
    fused.name = mm.name + "/bias";
    fused.op_type = fused::kMatMulBias;
    fused.inputs = {mm.inputs[0], mm.inputs[1], bias};
    fused.outputs = {node(a).outputs.at(0)};
    emit(a, std::move(fused), {i, a}, {});
    ++stats_.matmul_bias;
  }

  // The tail both GELU forms share, from inner = erf(...) or tanh(...):
  //   Add(inner, 1) -> Mul(x, .) -> Mul(., 0.5), or Add(inner, 1) -> Mul(Mul(x, 0.5), .)
  // Appends its nodes to `claimed`; returns the last one, or -1.
  int gelu_tail(const std::string& inner, const std::string& x, std::vector<int>& claimed) const {
    const int add = sole_reader_op(inner, "Add");
    if (add < 0 || !is_scalar(other_input(node(add), inner), 1.0)) return -1;
    const int m1 = sole_reader_op(node(add).outputs.at(0), "Mul");
    if (m1 < 0) return -1;
    const std::string factor = other_input(node(m1), node(add).outputs[0]);
    claimed.insert(claimed.end(), {add, m1});
    if (factor == x) {  // x (1 + inner), then * 0.5
      const int last = sole_reader_op(node(m1).outputs.at(0), "Mul");
      if (last < 0 || !is_scalar(other_input(node(last), node(m1).outputs[0]), 0.5)) return -1;
      claimed.push_back(last);
      return last;
    }
    // (x * 0.5) (1 + inner)
    const int h = producer_index(factor);
    if (h < 0 || claimed_.count(h) || !is_default_op(node(h), "Mul") || sole_reader(factor) != m1) return -1;
    if (other_input(node(h), x).empty() || !is_scalar(other_input(node(h), x), 0.5)) return -1;
    claimed.push_back(h);
    return m1;
  }

  // The sole-reader producer of `value` if it is an unclaimed default-domain `op`, else -1.
  int sole_producer_op(const std::string& value, const char* op) const {
    const int p = producer_index(value);
    if (p < 0 || claimed_.count(p) || !is_default_op(node(p), op)) return -1;
    return sole_reader(value) >= 0 ? p : -1;
  }

  void emit_gelu(const ir::Node& anchor, const std::string& x, int last, std::vector<int> claimed, bool tanh_form) {
    Node fused;
    fused.name = anchor.name + "/gelu";
    fused.op_type = fused::kGelu;
    fused.inputs = {x};
    fused.outputs = {node(last).outputs.at(0)};
    if (tanh_form) fused.attributes = {ir::string_attribute("approximate", "tanh")};
    emit(last, std::move(fused), std::move(claimed), {});
    ++(tanh_form ? stats_.gelu_tanh : stats_.gelu);
  }

  void gelu(int e) {
    const Node& erf = node(e);
    const int d = producer_index(input_or_empty(erf, 0));
    if (d < 0 || claimed_.count(d) || sole_reader(erf.inputs[0]) != e) return;
    const Node& scale = node(d);
    std::string x;
    for (const std::string& in : scale.inputs) {
      const std::string other = other_input(scale, in);
      if ((is_default_op(scale, "Div") && in == scale.inputs[0] && is_scalar(other, std::sqrt(2.0))) ||
          (is_default_op(scale, "Mul") && is_scalar(other, std::sqrt(0.5))))
        x = in;
    }
    if (x.empty()) return;
    std::vector<int> claimed = {d, e};
    const int last = gelu_tail(erf.outputs.at(0), x, claimed);
    if (last >= 0) emit_gelu(erf, x, last, std::move(claimed), false);
  }

  // GPT-2's tanh GELU (HF gelu_new), with x the only free value:
  //   Tanh(Mul(Add(x, Mul(Pow(x, 3), 0.044715)), sqrt(2/pi))) -> the shared tail
  void gelu_tanh(int t) {
    const Node& tanh = node(t);
    const int s = sole_producer_op(input_or_empty(tanh, 0), "Mul");
    if (s < 0) return;
    std::string inner;
    for (const std::string& in : node(s).inputs)
      if (is_scalar(other_input(node(s), in), std::sqrt(2.0 / M_PI))) inner = in;
    const int a = inner.empty() ? -1 : sole_producer_op(inner, "Add");
    if (a < 0) return;
    for (const std::string& x : node(a).inputs) {
      const int m = sole_producer_op(other_input(node(a), x), "Mul");
      if (m < 0) continue;
      for (const std::string& cube : node(m).inputs) {
        if (!is_scalar(other_input(node(m), cube), 0.044715)) continue;
        const int p = sole_producer_op(cube, "Pow");
        if (p < 0 || node(p).inputs.size() != 2 || node(p).inputs[0] != x || !is_scalar(node(p).inputs[1], 3.0)) continue;
        std::vector<int> claimed = {p, m, a, s, t};
        const int last = gelu_tail(tanh.outputs.at(0), x, claimed);
        if (last >= 0) emit_gelu(tanh, x, last, std::move(claimed), true);
        return;
      }
    }
  }

  // A Transpose of rank >= 3 that only the MatMul reads, whose view keeps the stored last axis
  // among its last two (so each matrix has a unit stride): its index and perm, else -1.
  int transposed_operand(const std::string& value, std::vector<int64_t>& perm) const {
    const int t = sole_producer_op(value, "Transpose");
    if (t < 0) return -1;
    perm = node(t).attr_ints("perm");
    const int64_t r = int64_t(perm.size());
    return r >= 3 && (perm[size_t(r - 1)] == r - 1 || perm[size_t(r - 2)] == r - 1) ? t : -1;
  }

  // MatMul over Transposes (attention's head split and merge), or followed by a scaling by a
  // scalar constant => PermutedMatMul, which reads and writes the transposed views in place and
  // scales in the GEMM (alpha; the product rounds once less than a Mul after it). Operands that
  // are not transposed must have a known rank >= 2 (a 1-D operand changes the product's rank).
  void permuted_matmul(int i) {
    const Node& mm = node(i);
    if (mm.inputs.size() != 2 || constant(mm.inputs[0]) || constant(mm.inputs[1])) return;
    std::vector<int64_t> perm_a, perm_b, perm_y;
    const int ta = transposed_operand(mm.inputs[0], perm_a), tb = transposed_operand(mm.inputs[1], perm_b);
    // The fused kernel is float32 only: the product, an operand or a transposed operand's source
    // must be declared float32 (a Transpose keeps the type).
    bool f32 = known_f32(mm.outputs.at(0)) || known_f32(mm.inputs[0]) || known_f32(mm.inputs[1]);
    for (int t : {ta, tb}) f32 |= t >= 0 && known_f32(node(t).inputs.at(0));
    if (!f32) return;
    auto rank = [&](int t, const std::vector<int64_t>& perm, const std::string& v) {
      if (t >= 0) return int(perm.size());
      auto it = ranks_.find(v);
      return it == ranks_.end() ? 0 : it->second;
    };
    const int ra = rank(ta, perm_a, mm.inputs[0]), rb = rank(tb, perm_b, mm.inputs[1]);
    if (ra < 2 || rb < 2) return;
    int ty = sole_reader_op(mm.outputs.at(0), "Transpose");
    if (ty >= 0) {
      perm_y = node(ty).attr_ints("perm");
      if (int(perm_y.size()) != std::max(ra, rb) || perm_y.back() != int64_t(perm_y.size()) - 1) ty = -1;
    }
    // Attention's score scaling, Mul(., s) or Div(., d) by a scalar constant, becomes alpha.
    int scale = -1;
    float alpha = 1.0f;
    if (ty < 0) {
      scale = sole_reader(mm.outputs.at(0));
      const Node* sn = scale >= 0 ? &node(scale) : nullptr;
      const std::string other = sn ? other_input(*sn, mm.outputs[0]) : std::string();
      const Tensor* c = scalar_f32(other);
      if (c && is_default_op(*sn, "Mul"))
        alpha = c->data<float>()[0];
      else if (c && is_default_op(*sn, "Div") && sn->inputs[1] == other)
        alpha = 1.0f / c->data<float>()[0];
      else
        scale = -1;
    }
    if (ta < 0 && tb < 0 && ty < 0 && scale < 0) return;
    Node fused;
    fused.name = mm.name + "/permuted";
    fused.op_type = fused::kPermutedMatMul;
    fused.inputs = {ta >= 0 ? node(ta).inputs.at(0) : mm.inputs[0], tb >= 0 ? node(tb).inputs.at(0) : mm.inputs[1]};
    fused.outputs = {ty >= 0 ? node(ty).outputs.at(0) : scale >= 0 ? node(scale).outputs.at(0) : mm.outputs.at(0)};
    std::vector<int> claimed = {i};
    if (scale >= 0) fused.attributes.push_back(ir::float_attribute("alpha", alpha)), claimed.push_back(scale);
    if (ta >= 0) fused.attributes.push_back(ir::ints_attribute("perm_a", perm_a)), claimed.push_back(ta);
    if (tb >= 0) fused.attributes.push_back(ir::ints_attribute("perm_b", perm_b)), claimed.push_back(tb);
    if (ty >= 0) fused.attributes.push_back(ir::ints_attribute("perm_y", perm_y)), claimed.push_back(ty);
    emit(ty >= 0 ? ty : scale >= 0 ? scale : i, std::move(fused), claimed, {});
    ++stats_.permuted_matmuls;
  }

  // Add(A, B) -> LayerNormalization (Y only) => AddLayerNorm(A, B, scale, bias) at the Add's
  // place (the LayerNormalization's readers all come later), keeping the sum as a second output
  // when anything else reads it (the next residual connection).
  void add_layer_norm(int l) {
    const Node& ln = node(l);
    for (size_t o = 1; o < ln.outputs.size(); ++o)
      if (!ln.outputs[o].empty()) return;
    // The fused kernel is float32 only: a float32 scale makes X float32.
    const Tensor* scale = ln.inputs.size() >= 2 ? constant(ln.inputs[1]) : nullptr;
    if (!scale || scale->dtype() != DType::kF32) return;
    // The fused node moves up to the Add, where a computed bias would not exist yet.
    if (ln.has_input(2) && !constant(ln.inputs[2])) return;
    const int a = producer_index(ln.inputs[0]);
    if (a < 0 || claimed_.count(a) || !is_default_op(node(a), "Add") || node(a).inputs.size() != 2) return;
    const std::string& sum = node(a).outputs.at(0);
    bool read_elsewhere = graph_outputs_.count(sum) > 0;
    for (int r : readers_.at(sum)) read_elsewhere |= r != l;
    Node fused;
    fused.name = ln.name + "/add";
    fused.op_type = fused::kAddLayerNorm;
    fused.inputs = {node(a).inputs[0], node(a).inputs[1], ln.inputs[1], input_or_empty(ln, 2)};
    if (fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.outputs = {ln.outputs[0]};
    if (read_elsewhere) fused.outputs.push_back(sum);
    fused.attributes = ln.attributes;
    emit(a, std::move(fused), {a, l}, {});
    ++stats_.add_layer_norms;
  }

  // Add(A, B) -> Softmax over the last axis (attention's mask) => AddSoftmax(A, B), at the
  // Softmax's place. The last axis: axis -1 at any opset (opsets before 13 coerce to 2-D from
  // the axis, which is the same there), or rank - 1 with the rank declared.
  void add_softmax(int si) {
    const Node& sm = node(si);
    const int64_t axis = sm.attr_int("axis", model_.opset_version("") >= 13 ? -1 : 1);
    const auto declared = ranks_.find(sm.inputs.at(0));
    if (axis != -1 && (declared == ranks_.end() || axis != declared->second - 1)) return;
    const int a = sole_producer_op(sm.inputs[0], "Add");
    if (a < 0 || node(a).inputs.size() != 2) return;
    // The fused kernel is float32 only.
    bool f32 = known_f32(sm.outputs.at(0)) || known_f32(sm.inputs[0]);
    for (const std::string& in : node(a).inputs) f32 |= known_f32(in);
    if (!f32) return;
    Node fused;
    fused.name = sm.name + "/add";
    fused.op_type = fused::kAddSoftmax;
    fused.inputs = node(a).inputs;
    fused.outputs = {sm.outputs.at(0)};
    emit(si, std::move(fused), {a, si}, {});
    ++stats_.add_softmaxes;
  }

  std::map<std::string, int> ranks_;  // declared ranks of graph inputs, outputs and value_info
  std::set<std::string> f32_values_;   // values they declare float32
  bool has_matmul_bias_ = false, has_gelu_ = false, has_permuted_ = false, has_add_ln_ = false, has_add_softmax_ = false;
  FloatFusionStats stats_;
};

// After FloatFuser: PermutedMatMul(Q, K) -> AddSoftmax(., mask) -> PermutedMatMul(., V), the
// scores and probabilities read by nothing else, => Attention(Q, K, V, mask), a block of query
// rows at a time with the scores in cache (runtime/fused/attention.cc).
class AttentionFuser : public PatternRewriter {
 public:
  explicit AttentionFuser(ir::Model& model) : PatternRewriter(model) {}

  int run() {
    int fused_count = 0;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& sm = node(int(i));
      if (!is_fused(sm, fused::kAddSoftmax) || sm.inputs.size() != 2) continue;
      // The scores: either input of the (commutative) Add, produced by a PermutedMatMul that
      // writes them untransposed.
      int scores = -1;
      size_t side = 0;
      for (size_t s = 0; s < 2 && scores < 0; ++s) {
        const int p = producer_index(sm.inputs[s]);
        if (p >= 0 && !claimed_.count(p) && is_fused(node(p), fused::kPermutedMatMul) &&
            node(p).attr_ints("perm_y").empty() && sole_reader(sm.inputs[s]) == int(i))
          scores = p, side = s;
      }
      if (scores < 0) continue;
      const int pv = sole_reader(sm.outputs.at(0));
      if (pv < 0 || !is_fused(node(pv), fused::kPermutedMatMul) || node(pv).inputs.at(0) != sm.outputs[0] ||
          !node(pv).attr_ints("perm_a").empty() || node(pv).attr_float("alpha", 1.0f) != 1.0f)
        continue;
      const Node& qk = node(scores);
      Node fused;
      fused.name = sm.name + "/attention";
      fused.op_type = fused::kAttention;
      fused.inputs = {qk.inputs.at(0), qk.inputs.at(1), node(pv).inputs.at(1), sm.inputs[1 - side]};
      fused.outputs = {node(pv).outputs.at(0)};
      fused.attributes.push_back(ir::float_attribute("alpha", qk.attr_float("alpha", 1.0f)));
      for (const auto& [attr, from, as] : {std::tuple{"perm_a", &qk, "perm_q"}, std::tuple{"perm_b", &qk, "perm_k"},
                                           std::tuple{"perm_b", &node(pv), "perm_v"}, std::tuple{"perm_y", &node(pv), "perm_y"}}) {
        const std::vector<int64_t> perm = from->attr_ints(attr);
        if (!perm.empty()) fused.attributes.push_back(ir::ints_attribute(as, perm));
      }
      emit(pv, std::move(fused), {scores, int(i), pv}, {});
      ++fused_count;
    }
    apply();
    return fused_count;
  }

 private:
  static bool is_fused(const Node& n, const char* op) { return n.op_type == op && n.domain == fused::kDomain; }
};

// After FloatFuser: an Int8MatMul whose product only a fused Gelu reads (directly or through
// a Reshape) takes the GELU into its epilogue, applied to each output tile while it is in
// cache (one pass over Y fewer).
class EpilogueFuser : public PatternRewriter {
 public:
  explicit EpilogueFuser(ir::Model& model) : PatternRewriter(model) {}

  int run() {
    int merged = 0;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& mm = node(int(i));
      if (mm.op_type != fused::kInt8MatMul || mm.domain != fused::kDomain || mm.attr_int("relu", 0) != 0 ||
          !mm.attr_string("activation", "").empty())
        continue;
      // The GELU may follow a Reshape (GPT-2's exports view the product first): an elementwise
      // op commutes with it, so the GELU moves into the product and the Reshape stays.
      int g = sole_reader(mm.outputs.at(0));
      const int reshape = g >= 0 && is_default_op(node(g), "Reshape") ? g : -1;
      if (reshape >= 0) g = sole_reader(node(reshape).outputs.at(0));
      if (g < 0 || node(g).op_type != fused::kGelu || node(g).domain != fused::kDomain) continue;
      Node fused = mm;
      fused.name = mm.name + "/gelu";
      fused.attributes.push_back(
          ir::string_attribute("activation", node(g).attr_string("approximate", "none") == "tanh" ? "gelu_tanh" : "gelu"));
      if (reshape < 0) {
        fused.outputs = {node(g).outputs.at(0)};
        emit(g, std::move(fused), {int(i), g}, {});
      } else {
        Node view = node(reshape);
        view.outputs = {node(g).outputs.at(0)};
        emit(int(i), std::move(fused), {int(i)}, {});
        emit_as_is(reshape, std::move(view), {reshape, g}, {});
      }
      ++merged;
    }
    apply();
    return merged;
  }
};

}  // namespace

Result<FloatFusionStats> fuse_float_patterns(ir::Model& model, const KernelRegistry& registry, FloatFusionScope scope) {
  FloatFusionStats stats = FloatFuser(model, registry, scope).run();
  if (scope == FloatFusionScope::kGeluOnly) return stats;
  if (registry.find(fused::kAttention, fused::kDomain, 1)) stats.attentions = AttentionFuser(model).run();
  if (registry.find(fused::kInt8MatMul, fused::kDomain, 1)) {
    stats.gelu_epilogues = EpilogueFuser(model).run();
    stats.column_splits = split_int8_product_columns(model);
  }
  return stats;
}

}  // namespace ember::runtime
