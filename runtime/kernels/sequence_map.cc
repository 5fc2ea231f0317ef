// SequenceMap (opset 17): body(s0[i], a1[i] or a1, ...) for i in [0, len(s0)), where each
// additional input is a sequence of the same length (element i is fed) or a tensor (fed as is
// every time). Output k is the sequence of the body's k-th outputs. The body runs on its own
// Interpreter (subgraph.h), with the outer-scope values it reads.
#include "ir/memory_limits.h"
#include "runtime/kernels/sequence_ops.h"
#include "runtime/subgraph.h"

namespace ember::runtime {
namespace {

class SequenceMapKernel final : public ValueKernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = "node '" + ctx.node.name + "' (SequenceMap)";
    const ir::Attribute* body = ctx.node.find_attr("body");
    if (!body || !body->g) return invalid_input(where + ": the body attribute (a graph) is missing");
    EMBER_ASSIGN_OR_RETURN(body_, SubgraphRunner::create(*body->g, ctx.opset, where));
    outer_ = outer_scope_reads(ctx.node);
    if (body_->body().inputs.size() != ctx.node.inputs.size() || body_->body().outputs.size() != ctx.node.outputs.size())
      return invalid_input(where + ": the body takes " + std::to_string(body_->body().inputs.size()) + " inputs and gives " +
                           std::to_string(body_->body().outputs.size()) + " outputs; the node has " +
                           std::to_string(ctx.node.inputs.size()) + " and " + std::to_string(ctx.node.outputs.size()));
    return Status::Ok();
  }

  Status run_values(ValueRunContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(const Value* first, ctx.sequence(0, "the input sequence"));
    const size_t length = first->elements().size();
    const size_t declared = ctx.node.inputs.size();
    for (size_t j = 1; j < declared; ++j) {
      if (!ctx.has_input(j)) return invalid_input(ctx.where() + ": additional input " + std::to_string(j) + " is missing");
      const Value& v = ctx.inputs[j];
      if (v.is_optional()) return invalid_input(ctx.where() + ": input " + std::to_string(j) + " is a " + v.describe() + "; it takes sequences and tensors");
      if (v.is_sequence() && v.elements().size() != length)
        return invalid_input(ctx.where() + ": input sequence " + std::to_string(j) + " holds " + std::to_string(v.elements().size()) +
                             " tensors, the first " + std::to_string(length));
    }
    const auto outer = outer_values(ctx, outer_);
    std::vector<std::vector<Tensor>> results(ctx.outputs.size());
    for (size_t i = 0; i < length; ++i) {
      std::vector<Value> in = {first->elements()[i]};
      for (size_t j = 1; j < declared; ++j)
        in.push_back(ctx.inputs[j].is_sequence() ? Value(ctx.inputs[j].elements()[i]) : ctx.inputs[j]);
      EMBER_ASSIGN_OR_RETURN(std::vector<Value> out, body_->run_values(in, outer));
      for (size_t k = 0; k < results.size(); ++k) {
        if (!out[k].is_tensor())
          return invalid_input(ctx.where() + ": body output " + std::to_string(k) + " is a " + out[k].describe() + "; SequenceMap collects tensors");
        results[k].push_back(std::move(out[k]).tensor());
      }
    }
    for (size_t k = 0; k < results.size(); ++k) {
      const DType declared_type = body_->body().outputs[k].elem_type;
      const DType type = !results[k].empty() ? results[k][0].dtype() : (declared_type == DType::kUndefined ? DType::kF32 : declared_type);
      ctx.set_output(k, Value::sequence(type, std::move(results[k])));
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<SubgraphRunner> body_;
  std::vector<std::string> outer_;
};

}  // namespace

std::unique_ptr<Kernel> make_sequence_map_kernel() { return std::make_unique<SequenceMapKernel>(); }

}  // namespace ember::runtime
