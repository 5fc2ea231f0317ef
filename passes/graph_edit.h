// Small graph-editing helpers shared by passes.
#pragma once
#include <map>
#include <set>
#include <vector>
#include <string>

#include "ir/model.h"

namespace ember::passes {

// Replaces every read of `from` by `to`: node inputs here and in subgraphs (outer-scope reads).
// Returns how many inputs it rewrote.
size_t replace_uses(ir::Graph& graph, const std::string& from, const std::string& to);
// Names read by the nodes of `graph` and of all its subgraphs.
std::set<std::string> names_read(const ir::Graph& graph);
// A value name not yet used in the graph, made from `base`.
std::string unique_name(const ir::Graph& graph, const std::string& base);
// The names unique_name(graph, ...) avoids, counted by occurrence and kept up to date by the
// caller across many edits, so that a pass naming thousands of values does not rebuild the
// set each time (issue 19: four rebuilds per quantized weight). unique() gives exactly what
// unique_name gives on the graph as long as every edit's names are added and removed here.
class UsedNames {
 public:
  explicit UsedNames(const ir::Graph& graph);
  void add(const std::string& name, size_t times = 1);
  void remove(const std::string& name, size_t times = 1);
  bool contains(const std::string& name) const { return counts_.count(name) > 0; }
  std::string unique(const std::string& base) const;

 private:
  std::map<std::string, size_t> counts_;
};
// Who reads each value: (node index, input index) pairs, in node order.
struct ValueReader {
  size_t node;
  size_t input;
};
using ValueReaders = std::map<std::string, std::vector<ValueReader>>;
ValueReaders value_readers(const ir::Graph& graph);
// Names of the graph's outputs.
std::set<std::string> graph_output_names(const ir::Graph& graph);
// True when `graph` gives `name` a meaning of its own (an initializer, a graph input or a node
// output), which shadows an outer-scope value of that name.
bool graph_defines(const ir::Graph& graph, const std::string& name);

}  // namespace ember::passes
