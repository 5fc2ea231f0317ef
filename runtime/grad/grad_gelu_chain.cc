#include "runtime/grad/grad_gelu_chain.h"

#include <map>
#include <memory>
#include <optional>

#include "runtime/kernels/broadcast_loop.h"
#include "runtime/parallel.h"

namespace ember::runtime::grad {
namespace {

struct ChainConstants {
  float half, one, c, k;
};

GradNeeds chain_needs(const ir::Node&, IndexMask) { return {bit(0) | bit(1), 0}; }

// Inputs {x, t}; the constants come through the node's cache (set by the planner).
Status chain_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const auto* k = ctx.cache ? static_cast<const ChainConstants*>(ctx.cache->get()) : nullptr;
  if (!k) return internal_error(ctx.where() + ": the fused GELU chain lost its constants");
  const Tensor& x = ctx.input(0);
  const Tensor& t = ctx.input(1);
  const Tensor& dy = ctx.output_grad(0);
  if (x.dtype() != DType::kF32 || t.dtype() != DType::kF32 || x.shape() != t.shape() || x.shape() != dy.shape())
    return internal_error(ctx.where() + ": the fused GELU chain needs f32 values of one shape");
  Tensor dx = ctx.allocate(x.shape());
  const float* xv = x.data<float>();
  const float* tv = t.data<float>();
  const float* g = dy.data<float>();
  float* out = dx.mutable_data<float>();
  const float half = k->half, one = k->one, c = k->c, k3 = 3.0f * k->k;
  parallel_for(dx.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const float xi = xv[i], ti = tv[i];
      out[i] = g[i] * half * ((one + ti) + xi * (1.0f - ti * ti) * c * (1.0f + k3 * xi * xi));
    }
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

const GradRule kChainRule{"ember.GeluTanhChain", bit(0), &chain_needs, &chain_backward};

class ChainMatcher {
 public:
  ChainMatcher(const ir::Graph& graph, const std::set<std::string>& sources, const GradientPlan& plan)
      : graph_(graph), plan_(plan) {
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      for (const auto& in : graph.nodes[i].inputs)
        if (!in.empty()) consumers_[in].push_back(static_cast<int>(i));
      for (const auto& out : graph.nodes[i].outputs)
        if (!out.empty()) producer_[out] = static_cast<int>(i);
    }
    for (const auto& out : graph.outputs) pinned_.insert(out.name);
    pinned_.insert(sources.begin(), sources.end());
  }

  // The chain around Tanh node `tanh`, or nullopt.
  struct Chain {
    std::vector<int> inner;  // every node but the final Mul
    int out = -1;
    std::string x, t;
    ChainConstants k{};
  };
  std::optional<Chain> match(int tanh) const {
    Chain ch;
    const ir::Node& tn = graph_.nodes[size_t(tanh)];
    ch.t = tn.outputs[0];
    std::string r;  // s = Mul(r, c), t = Tanh(s)
    const int s_node = op_with_scalar(tn.inputs[0], "Mul", &ch.k.c, &r);
    std::string q;  // r = Add(x, q)
    const int r_node = s_node < 0 ? -1 : producer(r, "Add");
    if (r_node < 0) return std::nullopt;
    int q_node = -1, pow_node = -1;
    for (int side = 0; side < 2 && pow_node < 0; ++side) {
      const ir::Node& add = graph_.nodes[size_t(r_node)];
      ch.x = add.inputs[size_t(side)];
      q = add.inputs[size_t(1 - side)];
      std::string p;  // q = Mul(p, k), p = Pow(x, 3)
      q_node = op_with_scalar(q, "Mul", &ch.k.k, &p);
      float e = 0;
      std::string base;
      pow_node = q_node < 0 ? -1 : op_with_scalar(p, "Pow", &e, &base, /*scalar_second_only=*/true);
      if (pow_node >= 0 && (e != 3.0f || base != ch.x)) pow_node = -1;
    }
    if (pow_node < 0) return std::nullopt;
    const int u_node = single_consumer(ch.t, "Add");  // u = Add(t, one)
    if (u_node < 0 || !scalar_operand(u_node, ch.t, &ch.k.one)) return std::nullopt;
    const std::string& u = graph_.nodes[size_t(u_node)].outputs[0];
    ch.out = single_consumer(u, "Mul");  // y = Mul(h, u), h = Mul(x, half)
    if (ch.out < 0) return std::nullopt;
    const ir::Node& out = graph_.nodes[size_t(ch.out)];
    const std::string& h = out.inputs[0] == u ? out.inputs[1] : out.inputs[0];
    std::string hx;
    const int h_node = op_with_scalar(h, "Mul", &ch.k.half, &hx);
    if (h_node < 0 || hx != ch.x) return std::nullopt;
    ch.inner = {h_node, pow_node, q_node, r_node, s_node, tanh, u_node};
    // Every intermediate has exactly one reader, and the whole chain is on the path.
    for (const std::string& v : {h, graph_.nodes[size_t(pow_node)].outputs[0], q, r, tn.inputs[0], ch.t, u})
      if (pinned_.count(v) || consumers(v) != 1) return std::nullopt;
    for (int n : ch.inner)
      if (!plan_.nodes[size_t(n)].on_path) return std::nullopt;
    if (!plan_.nodes[size_t(ch.out)].on_path) return std::nullopt;
    return ch;
  }

 private:
  size_t consumers(const std::string& v) const {
    auto it = consumers_.find(v);
    return it == consumers_.end() ? 0 : it->second.size();
  }
  int producer(const std::string& v, const char* op) const {
    auto it = producer_.find(v);
    if (it == producer_.end()) return -1;
    const ir::Node& n = graph_.nodes[size_t(it->second)];
    return n.op_type == op && n.domain.empty() && n.inputs.size() == 2 && n.outputs.size() == 1 ? it->second : -1;
  }
  int single_consumer(const std::string& v, const char* op) const {
    auto it = consumers_.find(v);
    if (it == consumers_.end() || it->second.size() != 1) return -1;
    const ir::Node& n = graph_.nodes[size_t(it->second[0])];
    return n.op_type == op && n.domain.empty() && n.inputs.size() == 2 ? it->second[0] : -1;
  }
  std::optional<float> scalar(const std::string& v) const {
    const Tensor* t = graph_.find_initializer(v);
    if (!t || t->dtype() != DType::kF32 || t->numel() != 1) return std::nullopt;
    return t->data<float>()[0];
  }
  // Node `n` (a consumer of `value`) has a scalar constant as its other operand.
  bool scalar_operand(int n, const std::string& value, float* k) const {
    const ir::Node& node = graph_.nodes[size_t(n)];
    const auto s = scalar(node.inputs[0] == value ? node.inputs[1] : node.inputs[0]);
    if (s) *k = *s;
    return s.has_value();
  }
  // The producer of `v` when it is `op`(other, scalar) (or the scalar first, unless
  // `scalar_second_only`): sets the scalar and the other operand.
  int op_with_scalar(const std::string& v, const char* op, float* k, std::string* other,
                     bool scalar_second_only = false) const {
    const int n = producer(v, op);
    if (n < 0) return -1;
    const ir::Node& node = graph_.nodes[size_t(n)];
    for (int side = 1; side >= (scalar_second_only ? 1 : 0); --side) {
      const auto s = scalar(node.inputs[size_t(side)]);
      if (!s || scalar(node.inputs[size_t(1 - side)])) continue;
      *k = *s;
      *other = node.inputs[size_t(1 - side)];
      return n;
    }
    return -1;
  }

  const ir::Graph& graph_;
  const GradientPlan& plan_;
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, int> producer_;
  std::set<std::string> pinned_;
};

}  // namespace

int fuse_tanh_gelu_chains(const ir::Graph& graph, const std::set<std::string>& sources, GradientPlan& plan) {
  const ChainMatcher matcher(graph, sources, plan);
  std::vector<ChainMatcher::Chain> chains;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& n = graph.nodes[i];
    if (n.op_type != "Tanh" || !n.domain.empty() || n.inputs.size() != 1 || n.outputs.size() != 1) continue;
    if (auto chain = matcher.match(static_cast<int>(i))) chains.push_back(std::move(*chain));
  }
  for (const auto& ch : chains) {
    for (int n : ch.inner) plan.nodes[size_t(n)] = NodeGradPlan{};
    NodeGradPlan& p = plan.nodes[size_t(ch.out)];
    p.rule = &kChainRule;
    p.wanted = bit(0);
    p.needs = chain_needs(graph.nodes[size_t(ch.out)], p.wanted);
    p.inputs = {ch.x, ch.t};
    p.state = std::make_shared<ChainConstants>(ch.k);
  }
  return static_cast<int>(chains.size());
}

}  // namespace ember::runtime::grad
