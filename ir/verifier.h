// Graph verifier: SSA (each value produced once), topological order, no dangling inputs,
// no duplicate names. Passes run it after every change; loaders run it on what they read.
#pragma once
#include "ir/model.h"
#include "ir/status.h"

namespace ember::ir {

Status verify_model(const Model& model);
// `outer_scope` holds names visible from enclosing graphs (for If/Loop bodies).
Status verify_graph(const Graph& graph, const std::vector<std::string>& outer_scope = {});

}  // namespace ember::ir
