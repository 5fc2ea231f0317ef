#include "passes/quantize/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "passes/graph_edit.h"
#include "passes/quantize/gptq.h"

namespace ember::passes::quant {
namespace {

constexpr int64_t kSearchRows = 128;  // output channels per layer that score each alpha

std::vector<float> scales_for(const std::vector<float>& mean_abs, float alpha) {
  float top = 0;
  for (float m : mean_abs) top = std::max(top, m);
  const float floor = std::max(top * 1e-5f, 1e-20f);  // dead channels must not get s = 0
  std::vector<float> s(mean_abs.size());
  float lo = std::numeric_limits<float>::max(), hi = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    s[k] = std::pow(std::max(mean_abs[k], floor), alpha);
    lo = std::min(lo, s[k]);
    hi = std::max(hi, s[k]);
  }
  const float norm = std::sqrt(lo * hi);
  for (float& v : s) v /= norm;
  return s;
}

// Readers and producers of the main graph's values.
struct Uses {
  std::map<std::string, std::vector<size_t>> readers;
  std::map<std::string, size_t> producer;
  std::set<std::string> outputs;
  explicit Uses(const ir::Graph& g) : outputs(graph_output_names(g)) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& in : g.nodes[i].inputs)
        if (!in.empty()) readers[in].push_back(i);
      for (const auto& out : g.nodes[i].outputs)
        if (!out.empty()) producer[out] = i;
    }
  }
  bool only_read_by(const std::string& v, const std::set<size_t>& allowed) const {
    auto it = readers.find(v);
    if (outputs.count(v) || it == readers.end()) return false;
    for (size_t r : it->second)
      if (!allowed.count(r)) return false;
    return true;
  }
  size_t reader_count(const std::string& v) const {
    auto it = readers.find(v);
    return it == readers.end() ? 0 : it->second.size();
  }
};

// An f32 initializer of `channels` values read by one node only (so it can be rescaled).
bool private_vector(const ir::Graph& g, const Uses& uses, const std::string& name, int64_t channels) {
  const Tensor* t = g.find_initializer(name);
  if (!t || t->dtype() != DType::kF32 || t->numel() != channels || uses.reader_count(name) != 1) return false;
  return t->rank() == 0 || t->dim(t->rank() - 1) == channels;
}

// A producing linear layer with a private constant 2-D weight whose output channels number `channels`.
std::optional<FoldSite> linear_site(const ir::Graph& g, const Uses& uses, const ir::Node& n, int64_t channels) {
  if (!n.domain.empty() || !n.has_input(1)) return std::nullopt;
  const Tensor* w = g.find_initializer(n.inputs[1]);
  if (!w || w->dtype() != DType::kF32 || w->rank() != 2 || uses.reader_count(n.inputs[1]) != 1) return std::nullopt;
  FoldSite site;
  site.kind = FoldSite::Kind::kLinear;
  site.scale_or_weight = n.inputs[1];
  if (n.op_type == "MatMul") {
    site.out_axis = 1;
  } else if (n.op_type == "Gemm" && n.attr_int("transA", 0) == 0) {
    site.out_axis = n.attr_int("transB", 0) != 0 ? 0 : 1;
    if (n.has_input(2)) {
      if (!private_vector(g, uses, n.inputs[2], channels)) return std::nullopt;
      site.bias = n.inputs[2];
    }
  } else {
    return std::nullopt;
  }
  if (w->dim(site.out_axis) != channels) return std::nullopt;
  return site;
}

Tensor divided(const Tensor& t, const std::vector<float>& s, int64_t stride_axis_len, bool by_row) {
  Tensor out = t.clone();
  float* v = out.mutable_data<float>();
  const int64_t n = out.numel();
  const int64_t C = static_cast<int64_t>(s.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = by_row ? i / stride_axis_len : i % C;
    v[i] /= s[size_t(k)];
  }
  return out;
}

}  // namespace

AwqChoice awq_search(const std::vector<AwqLayer>& layers, int64_t K, const std::vector<float>& mean_abs,
                     const std::vector<float>& h, int64_t group, QuantFormat f, ClipMode clip, int grid) {
  // Rows quantize independently, so a sample of output channels estimates each layer's error.
  std::vector<std::vector<float>> sampled;
  double den = 0;
  for (const auto& l : layers) {
    std::vector<float> m;
    for (int64_t r : sample_rows(l.rows, kSearchRows)) m.insert(m.end(), l.w + r * K, l.w + (r + 1) * K);
    den += hessian_quadratic(m.data(), int64_t(m.size()) / K, K, h);
    sampled.push_back(std::move(m));
  }
  if (!(den > 0)) den = 1;
  AwqChoice best;
  best.error = std::numeric_limits<double>::infinity();
  std::vector<float> scaled, d;
  for (int i = 0; i <= grid; ++i) {
    const float alpha = static_cast<float>(i) / static_cast<float>(grid);
    const std::vector<float> s = scales_for(mean_abs, alpha);
    double err = 0;
    for (const auto& w : sampled) {
      const int64_t rows = int64_t(w.size()) / K;
      scaled.resize(w.size());
      d.resize(w.size());
      for (size_t e = 0; e < w.size(); ++e) scaled[e] = w[e] * s[e % size_t(K)];
      const QuantizedMatrix q = quantize_rtn(scaled.data(), rows, K, group, f, clip);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < K; ++k) d[size_t(r * K + k)] = w[size_t(r * K + k)] - q.value(r, k) / s[size_t(k)];
      err += hessian_quadratic(d.data(), rows, K, h);
    }
    err /= den;
    if (i == 0) best.error_unscaled = err;
    if (err < best.error) {
      best.error = err;
      best.alpha = alpha;
      best.scales = s;
    }
  }
  return best;
}

std::string FoldSite::describe() const {
  return kind == Kind::kLayerNorm ? "LayerNormalization scale '" + scale_or_weight + "'" : "weight '" + scale_or_weight + "'";
}

std::optional<FoldSite> find_fold_site(const ir::Graph& graph, const std::string& activation,
                                       const std::set<size_t>& readers, int64_t channels) {
  const Uses uses(graph);
  std::string v = activation;
  std::set<size_t> allowed = readers;
  for (int hop = 0; hop < 8; ++hop) {
    if (!uses.only_read_by(v, allowed)) return std::nullopt;
    auto p = uses.producer.find(v);
    if (p == uses.producer.end()) return std::nullopt;
    const ir::Node& n = graph.nodes[p->second];
    if (!n.domain.empty() || n.outputs[0] != v) return std::nullopt;
    if (n.op_type == "Reshape") {  // both sides end in `channels` (checked at the site), so channels stay put
      v = n.inputs[0];
      allowed = {p->second};
      continue;
    }
    if (n.op_type == "LayerNormalization") {
      if (n.attr_int("axis", -1) != -1 || !private_vector(graph, uses, n.inputs[1], channels)) return std::nullopt;
      for (size_t o = 1; o < n.outputs.size(); ++o)
        if (!n.outputs[o].empty() && uses.reader_count(n.outputs[o]) > 0) return std::nullopt;
      FoldSite site;
      site.kind = FoldSite::Kind::kLayerNorm;
      site.scale_or_weight = n.inputs[1];
      if (n.has_input(2)) {
        if (!private_vector(graph, uses, n.inputs[2], channels)) return std::nullopt;
        site.bias = n.inputs[2];
      }
      return site;
    }
    if (n.op_type == "Gemm" || n.op_type == "MatMul") return linear_site(graph, uses, n, channels);
    if (n.op_type == "Add" && n.inputs.size() == 2) {  // MatMul + bias, as torchscript exports Linear
      for (int c = 0; c < 2; ++c) {
        const std::string& bias = n.inputs[size_t(c)];
        const std::string& u = n.inputs[size_t(1 - c)];
        if (!private_vector(graph, uses, bias, channels) || uses.reader_count(u) != 1 || uses.outputs.count(u)) continue;
        auto mp = uses.producer.find(u);
        if (mp == uses.producer.end() || graph.nodes[mp->second].op_type != "MatMul") continue;
        auto site = linear_site(graph, uses, graph.nodes[mp->second], channels);
        if (!site) continue;
        site->bias = bias;
        return site;
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

void apply_fold(ir::Graph& graph, const FoldSite& site, const std::vector<float>& s) {
  const Tensor& main = graph.initializers.at(site.scale_or_weight);
  if (site.kind == FoldSite::Kind::kLayerNorm || site.out_axis == 1) {
    graph.set_initializer(site.scale_or_weight, divided(main, s, 0, false));
  } else {
    graph.set_initializer(site.scale_or_weight, divided(main, s, main.dim(1), true));
  }
  if (!site.bias.empty()) graph.set_initializer(site.bias, divided(graph.initializers.at(site.bias), s, 0, false));
}

}  // namespace ember::passes::quant
