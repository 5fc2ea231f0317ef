// Small graph-editing helpers shared by passes.
#pragma once
#include <map>
#include <set>
#include <vector>
#include <string>

#include "ir/model.h"

namespace ember::passes {

// Replaces every read of `from` by `to`: node inputs here and in subgraphs (outer-scope reads).
void replace_uses(ir::Graph& graph, const std::string& from, const std::string& to);
// Names read by the nodes of `graph` and of all its subgraphs.
std::set<std::string> names_read(const ir::Graph& graph);
// A value name not yet used in the graph, made from `base`.
std::string unique_name(const ir::Graph& graph, const std::string& base);
// Who reads each value: (node index, input index) pairs, in node order.
struct ValueReader {
  size_t node;
  size_t input;
};
using ValueReaders = std::map<std::string, std::vector<ValueReader>>;
ValueReaders value_readers(const ir::Graph& graph);
// Names of the graph's outputs.
std::set<std::string> graph_output_names(const ir::Graph& graph);

}  // namespace ember::passes
