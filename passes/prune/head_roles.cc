#include "passes/prune/head_roles.h"

#include <optional>
#include <utility>

namespace ember::passes::prune {
namespace {

// What a walk along the block's head values reads.
struct Walk {
  const ir::Graph& graph;
  const ValueReaders& readers;
  const std::set<size_t>& matmuls;  // the MatMuls of two head values
  std::set<std::string> values;     // the block's head values
};

// Where `value` (section `section` of a fused projection, -1 past the fork) first enters a MatMul
// of two head values: {node, input}, following the one reader of each value (a Split's or the
// matching Slice's output at the fork); nullopt for anything else.
std::optional<std::pair<size_t, size_t>> enters(const Walk& w, std::string value, int64_t section, int64_t unit) {
  for (int step = 0; step < 64; ++step) {
    auto it = w.readers.find(value);
    if (it == w.readers.end() || it->second.empty()) return std::nullopt;
    const auto& rs = it->second;
    if (rs.size() > 1) {  // the fused projection's Slices: the one starting at section * unit
      if (section < 0) return std::nullopt;
      std::optional<std::string> next;
      for (const ValueReader& r : rs) {
        const ir::Node& n = w.graph.nodes[r.node];
        const Tensor* start = n.op_type == "Slice" && n.has_input(1) ? w.graph.find_initializer(n.inputs[1]) : nullptr;
        if (!start || start->dtype() != DType::kI64 || start->numel() != 1) return std::nullopt;
        if (start->data<int64_t>()[0] == section * unit) next = n.outputs[0];
      }
      if (!next) return std::nullopt;
      value = *next, section = -1;
      continue;
    }
    const ir::Node& n = w.graph.nodes[rs[0].node];
    if (w.matmuls.count(rs[0].node)) return std::make_pair(rs[0].node, rs[0].input);
    if (n.op_type == "Split") {
      if (section < 0 || section >= static_cast<int64_t>(n.outputs.size())) return std::nullopt;
      value = n.outputs[size_t(section)], section = -1;
      continue;
    }
    if (n.outputs.empty() || !w.values.count(n.outputs[0])) return std::nullopt;
    value = n.outputs[0];
  }
  return std::nullopt;
}


}  // namespace

std::string find_head_roles(const ir::Graph& graph, const ValueReaders& readers, const std::set<size_t>& matmuls,
                            int64_t head_dim, HeadGroup& group) {
  if (group.grouped_query()) return "grouped-query attention (the key/value heads are shared)";
  if (!group.per_channel.empty()) return "a per-channel constant is applied to the heads";
  if (group.dim_edits.empty()) return "no head Reshape gives the head dimension as a constant";
  if (matmuls.size() != 2) return "the block has " + std::to_string(matmuls.size()) + " MatMuls of head values, not a score and a context product";
  const Walk w{graph, readers, matmuls, std::set<std::string>(group.values.begin(), group.values.end())};
  const size_t a = *matmuls.begin(), b = *matmuls.rbegin();
  auto a_next = enters(w, graph.nodes[a].outputs[0], -1, 0);
  const bool a_scores = a_next && a_next->first == b && a_next->second == 0;
  const size_t score = a_scores ? a : b, context = a_scores ? b : a;
  auto s_next = enters(w, graph.nodes[score].outputs[0], -1, 0);
  if (!s_next || s_next->first != context || s_next->second != 0) return "the attention probabilities do not reach the context product";
  int seen[3] = {0, 0, 0};
  for (size_t p = 0; p < group.projections.size(); ++p) {
    const HeadProjection& proj = group.projections[p];
    for (int64_t s = 0; s < proj.sections; ++s) {
      auto at = enters(w, proj.layer.output, proj.sections > 1 ? s : -1, group.heads_of(proj) * head_dim);
      if (!at) return "the value path of '" + proj.layer.node + "' section " + std::to_string(s) + " cannot be followed";
      HeadRole role;
      if (at->first == score) role = at->second == 0 ? HeadRole::kQuery : HeadRole::kKey;
      else if (at->second == 1) role = HeadRole::kValue;
      else return "'" + proj.layer.node + "' feeds the context product's probabilities";
      ++seen[int(role)];
      group.roles.push_back({p, s, role});
    }
  }
  if (seen[0] != 1 || seen[1] != 1 || seen[2] != 1) return "the block has no single query, key and value";
  return std::string();
}

}  // namespace ember::passes::prune
