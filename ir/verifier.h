// Graph verifier: SSA (each value produced once), topological order, no dangling inputs,
// no duplicate names. Passes run it after every change; loaders run it on what they read.
#pragma once
#include "ir/model.h"
#include "ir/status.h"

namespace ember::ir {

Status verify_model(const Model& model);
// The opset imports a model read from a file must have: an import of the default domain
// ("" or "ai.onnx") at a version ONNX has defined (1 to kNewestOnnxOpset) whenever a node uses
// that domain, no domain imported twice, and positive versions for the other domains. (Graphs
// built in code may omit them.)
inline constexpr int64_t kNewestOnnxOpset = 24;
Status verify_opset_imports(const Model& model);
// `outer_scope` holds names visible from enclosing graphs (for If/Loop bodies).
Status verify_graph(const Graph& graph, const std::vector<std::string>& outer_scope = {});

}  // namespace ember::ir
