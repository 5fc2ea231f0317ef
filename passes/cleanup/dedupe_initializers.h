// dedupe-initializers: merges initializers that hold the same dtype, shape and bytes.
// Before: W1 = W2 (same bytes), A reads W1, B reads W2     After: A and B read W1; W2 is gone
// Initializers that are also graph inputs can be overridden by a feed, so they are left alone.
#pragma once
#include "passes/pass.h"

namespace ember::passes {

class DedupeInitializers final : public Pass {
 public:
  explicit DedupeInitializers(const PassOptions&) {}
  static std::vector<OptionSpec> option_specs() { return {}; }
  std::string_view name() const override { return "dedupe-initializers"; }
  Status run(ir::Model& model, PassContext& ctx) override;
};

}  // namespace ember::passes
