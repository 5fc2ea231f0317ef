// The machinery shared by the interpreter's load-time rewrites (rewrite_integer.h,
// rewrite_float.h): an index of producers and readers over a graph, the checks a pattern
// needs (a value's sole reader, constants, the other input of a binary node), and the
// rebuild that puts each fused node at its anchor, drops the nodes it claimed, and then
// drops pattern sources nothing reads any more. Fused nodes get domain ember.fused.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"

namespace ember::runtime {

bool is_default_op(const ir::Node& n, const char* op);
std::string input_or_empty(const ir::Node& n, size_t i);

class PatternRewriter {
 protected:
  explicit PatternRewriter(ir::Model& model);

  const ir::Node& node(int index) const { return graph_.nodes[size_t(index)]; }
  const ir::Node* producer(const std::string& value) const;
  int producer_index(const std::string& value) const;  // -1: a graph input or initializer
  // The single unclaimed node reading `value`, or -1 (several readers, none, or a graph output).
  int sole_reader(const std::string& value) const;
  const Tensor* constant(const std::string& value) const;
  // The constant `value` when it holds one element of type `dtype`, else null.
  const Tensor* one_element(const std::string& value, DType dtype) const;
  // The input of a two-input node that is not `known`; empty if `known` is not an input.
  std::string other_input(const ir::Node& n, const std::string& known) const;
  // A constant f32 bias of N values ([N] or [1, N]) on the other side of `add`; empty if not.
  std::string bias_of(const ir::Node& add, const std::string& product, int64_t N) const;
  // A name no initializer or node output has yet.
  std::string fresh_name(const std::string& base) const;

  // Puts `fused` (domain set here) at node `at`, after any node emitted there before; `claimed`
  // nodes go; `maybe_dead` nodes go if nothing reads them once the rewrites are applied.
  void emit(int at, ir::Node fused, std::vector<int> claimed, std::vector<int> maybe_dead);
  // The same for a node that keeps its own domain (a default-domain op rewired by a pattern).
  void emit_as_is(int at, ir::Node node, std::vector<int> claimed, std::vector<int> maybe_dead);
  // Rebuilds the node list; returns how many original nodes were removed (0 when no emits).
  int apply();

  ir::Model& model_;
  ir::Graph& graph_;
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<int>> readers_;
  std::set<std::string> graph_outputs_;
  std::set<int> claimed_;

 private:
  std::set<int> maybe_dead_;
  std::map<int, std::vector<ir::Node>> fused_at_;
};

}  // namespace ember::runtime
