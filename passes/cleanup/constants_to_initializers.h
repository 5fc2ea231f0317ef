// constants-to-initializers: Constant nodes become initializers.
// Before: Constant{value=T} -> W -> MatMul        After: initializer W = T -> MatMul
// Exporters such as paddle2onnx and older torch exports hold every weight in a Constant node.
// As initializers the weights are visible to inspect, the quantizers and dedupe, and saved
// once. Default-domain Constants with a tensor, float(s) or int(s) value move, in the main
// graph and (IR 4 and later) in subgraph bodies, which then hold their own initializers;
// string and sparse constants and Constants whose output is a graph output stay.
// For IR versions below 4 every initializer must also be a graph input, so one is added.
#pragma once
#include "passes/pass.h"

namespace ember::passes {

class ConstantsToInitializers final : public Pass {
 public:
  explicit ConstantsToInitializers(const PassOptions&) {}
  static std::vector<OptionSpec> option_specs() { return {}; }
  std::string_view name() const override { return "constants-to-initializers"; }
  Status run(ir::Model& model, PassContext& ctx) override;
};

}  // namespace ember::passes
