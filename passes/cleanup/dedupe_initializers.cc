#include "passes/cleanup/dedupe_initializers.h"

#include <map>
#include <set>
#include <string_view>

#include "passes/graph_edit.h"

namespace ember::passes {

Status DedupeInitializers::run(ir::Model& model, PassContext& ctx) {
  ir::Graph& graph = model.graph;
  std::set<std::string> overridable;
  for (const auto& in : graph.inputs) overridable.insert(in.name);
  const std::set<std::string> outputs = graph_output_names(graph);
  // Bucket by a content hash; compare bytes within a bucket to rule out collisions.
  std::map<size_t, std::vector<std::string>> buckets;
  size_t removed = 0, bytes_saved = 0;
  for (const auto& name : std::vector<std::string>(graph.initializer_order)) {
    if (overridable.count(name) || outputs.count(name)) continue;
    const Tensor& t = graph.initializers.at(name);
    if (t.dtype() == DType::kString) continue;
    const size_t hash = std::hash<std::string_view>{}(std::string_view(static_cast<const char*>(t.raw()), t.nbytes())) ^
                        (static_cast<size_t>(t.dtype()) * 0x9e3779b97f4a7c15ull) ^ std::hash<std::string>{}(shape_to_string(t.shape()));
    std::string* original = nullptr;
    for (auto& candidate : buckets[hash])
      if (graph.initializers.at(candidate).same_content(t)) original = &candidate;
    if (!original) {
      buckets[hash].push_back(name);
      continue;
    }
    bytes_saved += t.nbytes();
    replace_uses(graph, name, *original);
    graph.remove_initializer(name);
    ++removed;
  }
  ctx.remarks.count(name(), "initializers-merged", static_cast<double>(removed));
  ctx.remarks.count(name(), "bytes-saved", static_cast<double>(bytes_saved));
  return Status::Ok();
}

}  // namespace ember::passes
