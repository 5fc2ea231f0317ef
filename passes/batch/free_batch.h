// free-batch: makes an exported model's batch dimension really dynamic, so that a server can
// run several requests as one inference (deploy/ batching) and get, for each row, exactly what
// a batch-1 run of that request gives.
//
// Exporters that trace at batch 1 hard-code it in places the input's symbolic "batch" does not
// reach. In kjv-gpt2 (torch dynamo, opset 18):
//   Before: Gemm -> [B*S, 384] -> Reshape(shape = [1, -1, 384])          (folds B into S)
//           cumsum [1, S] -> GatherND(indices (b, q) for b in arange(B))  (index b >= 1 out of range)
//           value_info and the output: [1, seq, ...]                       (onnxruntime refuses B > 1)
//   After:  batch = Shape(input_ids)[0:1]
//           Reshape(shape = Concat(batch, [-1, 384]))                      -> [B, S, 384]
//           GatherND(Expand(cumsum, Concat(batch, [1])), (b, q))           -> cumsum[0, q] for every b
//           value_info and the output: [batch, seq, ...]
// Why each row is unchanged (batch_roles.h has the full argument): a row-major tensor's dim-0
// blocks are contiguous, so Reshape to [B, rest] of a value whose b-th block is request b's
// batch-1 value gives block b = Reshape to [1, rest] of that value; Expand copies a batch-free
// row to every b, so GatherND at (b, q) reads what the batch-1 run reads at (0, q). The analysis
// proves the rest of the graph row-wise op by op and refuses, naming the node, where it cannot
// (for instance DynamicQuantizeLinear, whose scale spans all rows): run free-batch before
// `quantize-activations{mode=dynamic}`, never after.
#pragma once
#include "passes/pass.h"

namespace ember::passes {

struct FreeBatchResult final : PassResult {
  int reshapes_rewritten = 0;     // constant [1, ...] shapes now read the batch
  int gathers_broadcast = 0;      // GatherND data broadcast to the batch
  int value_infos_updated = 0;    // dim 0 set to the batch (or unknown) from a batch-1 value
  std::string batch_param;
  nlohmann::json to_json() const override;
};

class FreeBatch final : public Pass {
 public:
  explicit FreeBatch(const PassOptions&) {}
  static std::vector<OptionSpec> option_specs() { return {}; }
  std::string_view name() const override { return "free-batch"; }
  Status run(ir::Model& model, PassContext& ctx) override;
  std::shared_ptr<const PassResult> result() const override { return result_; }

 private:
  std::shared_ptr<FreeBatchResult> result_;
};

}  // namespace ember::passes
