#include "runtime/optimizer/pattern_rewriter.h"

#include <algorithm>

#include "runtime/fused/fused_ops.h"

namespace ember::runtime {

using ir::Node;

bool is_default_op(const Node& n, const char* op) { return n.op_type == op && (n.domain.empty() || n.domain == "ai.onnx"); }
std::string input_or_empty(const Node& n, size_t i) { return n.has_input(i) ? n.inputs[i] : std::string(); }

PatternRewriter::PatternRewriter(ir::Model& model) : model_(model), graph_(model.graph) {
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    for (const auto& out : n.outputs)
      if (!out.empty()) producer_[out] = static_cast<int>(i);
    for (const auto& in : n.inputs)
      if (!in.empty()) readers_[in].push_back(static_cast<int>(i));
  }
  for (const auto& out : graph_.outputs) graph_outputs_.insert(out.name);
}

const Node* PatternRewriter::producer(const std::string& value) const {
  const int i = producer_index(value);
  return i < 0 ? nullptr : &graph_.nodes[size_t(i)];
}

int PatternRewriter::producer_index(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? -1 : it->second;
}

int PatternRewriter::sole_reader(const std::string& value) const {
  auto it = readers_.find(value);
  if (it == readers_.end() || it->second.size() != 1 || graph_outputs_.count(value)) return -1;
  return claimed_.count(it->second[0]) ? -1 : it->second[0];
}

const Tensor* PatternRewriter::constant(const std::string& value) const {
  return value.empty() ? nullptr : graph_.find_initializer(value);
}

const Tensor* PatternRewriter::one_element(const std::string& value, DType dtype) const {
  const Tensor* t = constant(value);
  return t && t->dtype() == dtype && t->numel() == 1 ? t : nullptr;
}

std::string PatternRewriter::other_input(const Node& n, const std::string& known) const {
  if (n.inputs.size() != 2) return {};
  return n.inputs[0] == known ? n.inputs[1] : (n.inputs[1] == known ? n.inputs[0] : std::string());
}

std::string PatternRewriter::bias_of(const Node& add, const std::string& product, int64_t N) const {
  const std::string other = other_input(add, product);
  const Tensor* bias = constant(other);
  if (!bias || bias->dtype() != DType::kF32 || bias->numel() != N || bias->rank() > 2) return {};
  return other;
}

std::string PatternRewriter::fresh_name(const std::string& base) const {
  std::string name = base;
  for (int k = 1; graph_.find_initializer(name) || producer_.count(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

void PatternRewriter::emit(int at, Node fused, std::vector<int> claimed, std::vector<int> maybe_dead) {
  fused.domain = fused::kDomain;
  emit_as_is(at, std::move(fused), std::move(claimed), std::move(maybe_dead));
}

void PatternRewriter::emit_as_is(int at, Node fused, std::vector<int> claimed, std::vector<int> maybe_dead) {
  for (int c : claimed) claimed_.insert(c);
  for (int d : maybe_dead)
    if (d >= 0) maybe_dead_.insert(d);
  fused_at_[at].push_back(std::move(fused));
}

int PatternRewriter::apply() {
  if (fused_at_.empty()) return 0;
  std::vector<Node> nodes;
  std::vector<int> origin;  // original index per kept node, -1 for fused
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    auto it = fused_at_.find(static_cast<int>(i));
    if (it != fused_at_.end()) {
      for (Node& n : it->second) {
        nodes.push_back(std::move(n));
        origin.push_back(-1);
      }
    } else if (!claimed_.count(static_cast<int>(i))) {
      nodes.push_back(std::move(graph_.nodes[i]));
      origin.push_back(static_cast<int>(i));
    }
  }
  const int before = static_cast<int>(graph_.nodes.size());
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> read(graph_outputs_.begin(), graph_outputs_.end());
    for (const Node& n : nodes)
      for (const auto& in : n.inputs) read.insert(in);
    for (size_t k = nodes.size(); k-- > 0;) {
      if (origin[k] < 0 || !maybe_dead_.count(origin[k])) continue;
      const bool unread = std::none_of(nodes[k].outputs.begin(), nodes[k].outputs.end(),
                                       [&](const std::string& out) { return !out.empty() && read.count(out); });
      if (unread) {
        nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(k));
        origin.erase(origin.begin() + static_cast<std::ptrdiff_t>(k));
        changed = true;
      }
    }
  }
  int fused_count = 0;
  for (const auto& [at, emitted] : fused_at_) fused_count += static_cast<int>(emitted.size());
  graph_.nodes = std::move(nodes);
  fused_at_.clear();
  model_.set_opset_version(fused::kDomain, 1);
  return before - (static_cast<int>(graph_.nodes.size()) - fused_count);
}

}  // namespace ember::runtime
