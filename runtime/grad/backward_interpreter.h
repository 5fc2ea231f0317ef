// BackwardInterpreter: reverse-mode differentiation of an ONNX graph over the runtime's FP32 ops.
//   create():   copies the model; Constant nodes become initializers (float ones inside subgraph
//               bodies too, read there as outer values); the weights to
//               differentiate are shielded from constant folding (a Transpose of a weight
//               must stay a node for its gradient to reach the weight), everything else folds
//               as in the Interpreter; plans the gradient path (gradient_path.h) and fails
//               listing every op on it without a backward rule.
//   forward():  runs the runtime Interpreter (weights stay initializers, so kernels pre-pack
//               them; GELU subgraphs fused, as their fused op has a backward rule) and keeps
//               only the activations the backward rules asked for.
//   backward(): walks the path in reverse from the given output gradients and hands each
//               requested gradient to a sink as soon as it is complete, then frees it: weight
//               gradients are never all alive at once, and neither are activations.
// Memory: saved activations of one forward pass + the gradients in flight.
// Sequences and optionals: forward() keeps only their layout (length, element shapes), and
// their gradients travel as SequenceGrads beside the tensor ones (sequence_grads.h); rules
// registered with add_sequence_rule take them. forward() and backward(): backward_pass.cc.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "runtime/grad/gradient_path.h"
#include "runtime/grad/sequence_grads.h"
#include "runtime/interpreter.h"
#include "runtime/tensor_pool.h"

namespace ember::runtime::grad {

struct GradientOptions {
  // Weights to differentiate. Empty: every f32 initializer (Constant nodes included) with at
  // least `min_parameter_elements` values, which leaves out scalar constants such as 0.5.
  std::vector<std::string> parameters;
  int64_t min_parameter_elements = 2;
  std::vector<std::string> activations;  // graph inputs or intermediates whose gradient to report too
  std::vector<std::string> seeded_outputs;  // graph outputs that will receive gradients; empty: all
  int threads = 0;
  // How the backward pass's matrix products (MatMul, Gemm, Conv) round their inputs: kBf16
  // halves their cost where the CPU has AVX512-BF16, with each gradient then good to about 3
  // significant digits (runtime/gemm/sgemm.h). The forward pass is always f32.
  GemmInputs products = GemmInputs::kF32;
};

// Receives (name, dL/dvalue) once per differentiated value per backward pass; the tensor is
// only valid during the call. Weights off the gradient path are never reported (zero gradient).
using GradientSink = std::function<Status(const std::string& name, const Tensor& grad)>;
// Receives, instead, a weight gradient that a rule left as its factors (FactoredGrad in
// grad_rule.h: the linear layers'), to reduce block by block; valid only during the call.
using FactoredGradientSink = std::function<Status(const std::string& name, FactoredGrad& grad)>;
// Receives the gradient of a differentiated value that is a sequence (a Loop body's carried
// sequence, an outer sequence a body reads): one tensor per element, undefined for zero;
// valid only during the call.
using SequenceGradientSink = std::function<Status(const std::string& name, const SequenceGrad& grad)>;

class BackwardInterpreter {
 public:
  static Result<std::unique_ptr<BackwardInterpreter>> create(const ir::Model& model, const GradientOptions& options = {});

  // Runs the model; returns the graph outputs in order. Keeps what backward() needs.
  Result<std::vector<Tensor>> forward(const std::map<std::string, Tensor>& feeds);
  // The same for a graph whose outputs may be sequences or optionals (an If's branch).
  Result<std::vector<Value>> forward_values(const std::map<std::string, Tensor>& feeds);
  // The same with feeds that may be sequences or optionals (a Loop body's carried sequence).
  Result<std::vector<Value>> forward_with_values(const std::map<std::string, Value>& feeds);
  // dL/d(output) for seeded outputs (f32, the output's shape); missing outputs count as zero.
  // With a factored sink, the weight gradients that rules can factor go there, not to `sink`.
  // `sequence_output_grads`: the gradients of outputs that are sequences (an If's branch);
  // `sequence_sink` receives those of differentiated values that are sequences.
  Status backward(const std::map<std::string, Tensor>& output_grads, const GradientSink& sink,
                  const FactoredGradientSink& factored_sink = nullptr,
                  const std::map<std::string, SequenceGrad>& sequence_output_grads = {},
                  const SequenceGradientSink& sequence_sink = nullptr);

  const std::vector<std::string>& parameters() const { return parameters_; }
  // Parameters whose gradient can be nonzero (they reach a seeded output).
  const std::set<std::string>& reached() const { return plan_.reached; }
  // Nodes on the gradient path without a backward rule, and the sources each cuts off.
  const std::vector<GradientCut>& cuts() const { return plan_.cuts; }
  const Tensor& parameter_value(const std::string& name) const;
  const ir::Model& model() const { return interp_->model(); }
  Interpreter& interpreter() { return *interp_; }
  std::vector<std::string> output_names() const { return interp_->output_names(); }
  size_t saved_bytes() const;  // activations kept by the last forward()
  // The shape a value had in the last forward(); nullopt when unknown (not computed).
  std::optional<Shape> value_shape(const std::string& name) const;
  int64_t path_nodes() const;

 private:
  BackwardInterpreter() = default;
  static constexpr int kNotReported = -2;  // finalize_after_: a value never handed to the sink
  static constexpr int kAtSeeding = -1;    // finalize_after_: complete before any node runs
  Status build(const ir::Model& model, const GradientOptions& options);
  int slot(const std::string& name) const;
  // The forward values, shapes and gradients node k's rule sees (ctx is filled in place).
  Status fill_context(size_t k, BackwardContext& ctx, const std::vector<Tensor>& grads,
                      const std::unordered_map<int, SequenceGrad>& sequence_grads, bool& any_grad);
  // Adds the input gradients node k's rule gave to those of its inputs.
  Status accumulate_inputs(size_t k, BackwardContext& ctx, std::vector<Tensor>& grads,
                           std::unordered_map<int, SequenceGrad>& sequence_grads);

  std::unique_ptr<Interpreter> interp_;
  std::vector<std::string> parameters_;
  GradientPlan plan_;
  std::unordered_map<std::string, int> slot_of_;
  std::vector<std::string> names_;          // per slot
  std::vector<const Tensor*> constants_;    // per slot: initializer or nullptr
  std::vector<bool> is_saved_;              // per slot
  std::vector<bool> reported_;              // per slot: handed to the sink
  std::vector<int> finalize_after_;         // per slot: node index after which the gradient is complete, -1: at seeding
  std::vector<int> release_saved_after_;    // per slot: last backward reader of a saved value
  std::vector<std::vector<int>> node_inputs_, node_outputs_;  // slots, -1 for omitted
  TensorPool grad_pool_;  // gradient buffers, reused across nodes and batches
  std::vector<std::shared_ptr<void>> node_cache_;  // per node: state a rule keeps across passes
  GemmInputs products_ = GemmInputs::kF32;          // GradientOptions::products
  // Per forward pass.
  std::vector<Tensor> saved_;
  std::vector<Shape> shapes_;
  std::vector<DType> dtypes_;
  // Sequences and optionals of the last forward() (sequence_grads.h); empty for tensor-only models.
  std::unordered_map<int, ValueLayout> layouts_;
  std::unordered_map<int, Value> saved_others_;  // the sequences a sequence rule reads (SequenceMap)
  bool forward_done_ = false;
};

// The model with Constant-node tensors moved to initializers, the chosen parameters, and
// everything else that does not depend on them folded (exposed for tests and analyses).
struct PreparedModel {
  ir::Model model;
  std::vector<std::string> parameters;
};
Result<PreparedModel> prepare_for_gradients(const ir::Model& model, const GradientOptions& options);

}  // namespace ember::runtime::grad
