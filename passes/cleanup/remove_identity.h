// remove-identity: drops Identity nodes.
// Before: X -> Identity -> Y -> readers        After: X -> readers (Y renamed to X)
// When Y is a graph output the name Y must survive, so instead the producer of X is renamed
// to write Y directly — possible only when X is produced by a node of this graph and is not
// itself a graph output; otherwise the Identity stays.
#pragma once
#include "passes/pass.h"

namespace ember::passes {

class RemoveIdentity final : public Pass {
 public:
  explicit RemoveIdentity(const PassOptions&) {}
  static std::vector<OptionSpec> option_specs() { return {}; }
  std::string_view name() const override { return "remove-identity"; }
  Status run(ir::Model& model, PassContext& ctx) override;
};

}  // namespace ember::passes
