// dce: dead-code elimination.
// Before: nodes, initializers and value_info that no graph output depends on.
// After:  only what the outputs need. Graph inputs are the interface and stay, except
//         initializer-backed inputs (old exports list weights as inputs) that nothing reads.
// A node is live when one of its outputs is a graph output or is read by a live node,
// including reads from inside If/Loop/Scan bodies.
#pragma once
#include "passes/pass.h"

namespace ember::passes {

class DeadCodeElimination final : public Pass {
 public:
  explicit DeadCodeElimination(const PassOptions&) {}
  static std::vector<OptionSpec> option_specs() { return {}; }
  std::string_view name() const override { return "dce"; }
  Status run(ir::Model& model, PassContext& ctx) override;
  // Removing what no output depends on changes no value an analysis observed.
  PreservedAnalyses preserved() const override { return PreservedAnalyses::all(); }
};

}  // namespace ember::passes
