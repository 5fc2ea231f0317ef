// Backward rules: for one ONNX op, how the gradient of the loss w.r.t. the op's outputs
// (dL/dY) becomes the gradient w.r.t. its inputs (dL/dX), i.e. the vector-Jacobian product.
// Rules live beside the runtime, one file per op family (grad_rules.def lists them), and
// compute in f32. A rule states which forward values it reads (`needs`), so the backward
// interpreter keeps exactly those activations alive between the forward and backward pass;
// shapes of every value are always available.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/kernel.h"

namespace ember::runtime::grad {

// Bit i stands for input (or output) i of the node. 128 bits: an If's rule takes every outer
// value its branches read as an input (Silero VAD's reads 71); nodes with more inputs on the
// gradient path are rejected by the planner.
using IndexMask = unsigned __int128;
inline constexpr size_t kMaxIndices = 128;  // width of IndexMask
inline constexpr IndexMask bit(size_t i) { return IndexMask{1} << i; }
inline constexpr IndexMask kAllIndices = ~IndexMask{0};

// The forward values a rule reads, for the inputs it was asked to differentiate.
struct GradNeeds {
  IndexMask inputs = 0;
  IndexMask outputs = 0;
};

// A weight gradient left as its two factors: g = alpha * left^T right, stored [rows, width]
// as the weight is, with left [depth, rows] and right [depth, width] row-major (a linear
// layer's inputs and output gradient, or the other way round for a transposed weight: the
// products summed over its tokens). A sink that reduces the gradient block by block computes
// each block of rows when it needs it, so the whole product is never written out.
struct FactoredGrad {
  Tensor left, right;  // views that keep the factors alive
  int64_t depth = 0, rows = 0, width = 0;
  float alpha = 1;
  GemmInputs inputs = GemmInputs::kF32;  // how compute_rows rounds the factors (sgemm.h)
  std::shared_ptr<const PackedMatrixB> packed_right = nullptr;  // set by pack_right()
  // Packs `right` once for the GEMMs of many blocks (multi-threaded; call it outside them).
  void pack_right();
  // Rows [r0, r1) of g into out (r1 - r0 rows of width floats), on the calling thread when
  // called from inside a parallel region.
  void compute_rows(int64_t r0, int64_t r1, float* out) const;
  Tensor materialize(const Shape& shape, TensorAllocator* allocator) const;
};

struct BackwardContext {
  const ir::Node& node;
  int64_t opset;
  // Forward values: those the rule asked for (and every constant input) are set, others nullptr.
  std::vector<const Tensor*> inputs;
  std::vector<const Tensor*> outputs;
  std::vector<Shape> input_shapes;   // of every present input
  std::vector<Shape> output_shapes;  // of every present output
  std::vector<const Tensor*> output_grads;  // dL/dY_j (f32, shape of Y_j); nullptr when no gradient flows
  IndexMask wanted = 0;                     // inputs whose gradient is asked for
  std::vector<Tensor> input_grads;          // the rule assigns dL/dX_i (f32, shape of X_i) for wanted i
  TensorAllocator* allocator = nullptr;     // the backward pass's pool; nullptr: plain allocations
  IndexMask constant_inputs = 0;            // inputs that are weights or constants: equal in every pass
  std::shared_ptr<void>* cache = nullptr;   // per-node state kept across passes (e.g. packed weights)
  // How the rules' matrix products round their inputs: f32, or bf16 (GradientOptions::products).
  GemmInputs products = GemmInputs::kF32;
  // Inputs whose gradient the rule may give as factors (factored_grads[i]) instead of
  // input_grads[i]: weights that only this node's gradient reaches, for a sink that takes them.
  IndexMask factorable = 0;
  std::vector<std::optional<FactoredGrad>> factored_grads = {};

  // f32 storage for results, reused across nodes and batches when a pool is set.
  Tensor allocate(const Shape& shape) const;  // contents unspecified
  Tensor zeros(const Shape& shape) const;

  bool wants(size_t i) const { return (wanted & bit(i)) != 0; }
  bool may_factor(size_t i) const { return (factorable & bit(i)) != 0; }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(size_t i) const { return *inputs[i]; }
  const Tensor& output(size_t i) const { return *outputs[i]; }
  bool has_output_grad(size_t j) const { return j < output_grads.size() && output_grads[j] != nullptr; }
  const Tensor& output_grad(size_t j) const { return *output_grads[j]; }
  std::string where() const { return "node '" + node.name + "' (" + node.op_type + ")"; }
};

using NeedsFunction = GradNeeds (*)(const ir::Node& node, IndexMask wanted);
using BackwardFunction = Status (*)(BackwardContext& ctx);
// For rules that cover only some configurations of their op (attributes, present inputs): an
// unsupported node is planned as a node without a rule, a cut naming what it cuts off.
using SupportsFunction = bool (*)(const ir::Node& node);

struct GradRule {
  std::string op_type;
  IndexMask differentiable = 0;  // inputs a gradient can flow into (not indices, shapes, axes)
  NeedsFunction needs = nullptr;
  BackwardFunction backward = nullptr;
  std::string domain = "";  // "" for ONNX's default domain; else, e.g., ember.fused
  SupportsFunction supports = nullptr;  // nullptr: every node of the op
};

class GradRegistry {
 public:
  void add(std::string op_type, IndexMask differentiable, NeedsFunction needs, BackwardFunction backward,
           std::string domain = "", SupportsFunction supports = nullptr);
  // The rule for an op of the default ONNX domain (or of `domain`); nullptr when there is none.
  const GradRule* find(std::string_view op_type, std::string_view domain) const;
  const std::vector<GradRule>& all() const { return rules_; }

 private:
  std::vector<GradRule> rules_;
};

// Every family of grad_rules.def; built once, on first use.
const GradRegistry& default_grad_registry();

// Ops whose outputs carry no gradient at all (shapes, comparisons, logic, indices,
// rounding): the gradient path simply stops there.
bool is_non_differentiable_op(std::string_view op_type);

}  // namespace ember::runtime::grad
