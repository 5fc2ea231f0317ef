// Batched graph edits for the activation passes: nodes inserted before a node, nodes that
// replace a node, fresh value names, and removal of what the edits left unread. Edits are
// collected against the original node indices and applied once, so indices stay valid while
// a pass plans its changes and the graph stays topologically ordered.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"

namespace ember::passes::act_quant {

// Unique value and node names: every name of the graph (and its subgraphs) is reserved once.
class NameMaker {
 public:
  explicit NameMaker(const ir::Graph& graph);
  std::string make(const std::string& base);

 private:
  std::set<std::string> used_;
};

class GraphEdits {
 public:
  void insert_before(size_t node, ir::Node inserted) { before_[node].push_back(std::move(inserted)); }
  void replace(size_t node, std::vector<ir::Node> replacement) { replace_[node] = std::move(replacement); }
  bool replaced(size_t node) const { return replace_.count(node) > 0; }
  // Rebuilds graph.nodes with the edits.
  void apply(ir::Graph& graph);

 private:
  std::map<size_t, std::vector<ir::Node>> before_;
  std::map<size_t, std::vector<ir::Node>> replace_;
};

// Removes the nodes among `candidates` (names of their first output) that nothing reads any
// more, then the initializers among `initializers` that nothing reads. Returns the number of
// nodes removed.
size_t remove_unread(ir::Graph& graph, const std::set<std::string>& candidate_outputs,
                     const std::set<std::string>& initializers);

}  // namespace ember::passes::act_quant
