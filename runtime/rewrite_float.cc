#include "runtime/rewrite_float.h"

#include <cmath>

#include "ir/builders.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/pattern_rewriter.h"

namespace ember::runtime {
namespace {

using ir::Node;

class FloatFuser : public PatternRewriter {
 public:
  FloatFuser(ir::Model& model, const KernelRegistry& registry) : PatternRewriter(model) {
    has_matmul_bias_ = registry.find(fused::kMatMulBias, fused::kDomain, 1) != nullptr;
    has_gelu_ = registry.find(fused::kGelu, fused::kDomain, 1) != nullptr;
  }

  FloatFusionStats run() {
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const int index = static_cast<int>(i);
      if (claimed_.count(index)) continue;
      const Node& n = node(index);
      if (has_matmul_bias_ && is_default_op(n, "MatMul")) matmul_bias(index);
      if (has_gelu_ && is_default_op(n, "Erf")) gelu(index);
      if (has_gelu_ && is_default_op(n, "Tanh")) gelu_tanh(index);
    }
    apply();
    return stats_;
  }

 private:
  // Whether `value` is a one-element f32 constant of rank <= 1 (so it cannot broadcast the
  // result to a higher rank) within 1e-5 (relative) of `expected`.
  bool is_scalar(const std::string& value, double expected) const {
    const Tensor* t = constant(value);
    if (!t || t->dtype() != DType::kF32 || t->numel() != 1 || t->rank() > 1) return false;
    const double v = t->data<float>()[0];
    return std::fabs(v - expected) <= 1e-5 * std::fabs(expected);
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

  bool has_matmul_bias_ = false, has_gelu_ = false;
  FloatFusionStats stats_;
};

}  // namespace

Result<FloatFusionStats> fuse_float_patterns(ir::Model& model, const KernelRegistry& registry) {
  return FloatFuser(model, registry).run();
}

}  // namespace ember::runtime
