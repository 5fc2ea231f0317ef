// upgrade-opset: raises the default-domain opset import, rewriting the ops whose signature
// changed on the way, so that the graph computes exactly what it did (bit-identical outputs).
// Before (opset 9):  Unsqueeze{axes=[0]}(X), Clip{min=0,max=6}(X), Upsample(X, scales)
// After  (opset 13): Unsqueeze(X, axes=[0]), Clip(X, 0, 6), Resize(X, "", scales){asymmetric, floor}
// Steps, each applied when the upgrade crosses its version (all graphs, subgraphs included):
//   7  binary ops and Gemm lose broadcast/axis (numpy broadcasting; an axis must be trailing)
//   9  BatchNormalization loses spatial; Upsample's scales attribute becomes an input
//   10 Slice starts/ends/axes and TopK k become inputs; Upsample becomes Resize
//   11 Clip min/max and Pad pads/value become inputs; Resize gains roi and the explicit
//      asymmetric transform of opset 10; Scatter becomes ScatterElements
//   12 Dropout ratio becomes an input
//   13 Squeeze/Unsqueeze axes, Split split and ReduceSum axes become inputs; Softmax,
//      LogSoftmax and Hardmax on a non-last axis keep their 2-D coercion through
//      Flatten -> op(axis=-1) -> Reshape(Shape(X))
//   18 the other Reduce ops' axes become inputs; Split without split gains num_outputs
//   20 GridSample's bilinear/bicubic modes are renamed linear/cubic; DFT's axis becomes an input
// Opsets below 6 are refused (their legacy attributes such as consumed_inputs changed meaning).
#pragma once
#include <string>
#include <vector>

#include "passes/pass.h"

namespace ember::passes {

struct OpsetUpgradeResult final : PassResult {
  int64_t from = 0, to = 0;
  size_t nodes_rewritten = 0;
  nlohmann::json to_json() const override;
};

// Raises the default-domain opset of `model` to `target` (nothing when it is already there).
Result<OpsetUpgradeResult> upgrade_default_opset(ir::Model& model, int64_t target);

class OpsetUpgrade final : public Pass {
 public:
  struct Options {
    int64_t version = 13;
  };
  explicit OpsetUpgrade(const PassOptions& options) : options_(options) {}
  static std::vector<OptionSpec> option_specs();
  std::string_view name() const override { return "upgrade-opset"; }
  Status run(ir::Model& model, PassContext& ctx) override;
  std::shared_ptr<const PassResult> result() const override { return result_; }

 private:
  PassOptions options_;
  std::shared_ptr<OpsetUpgradeResult> result_;
};

}  // namespace ember::passes
