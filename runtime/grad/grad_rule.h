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
#include "ir/value.h"
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

// The gradient of a sequence value: one f32 tensor per element, of that element's shape, or
// an undefined tensor where no gradient reaches the element (zero). An optional's gradient is
// its element's (a tensor, or a SequenceGrad); an empty optional has none.
using SequenceGrad = std::vector<Tensor>;

// What the forward pass leaves of a value that is not a plain tensor, for the rules: whether
// it is (or an optional holds) a sequence, and each element's shape. An optional holding a
// tensor has the tensor's shape as the value's shape (input_shapes / output_shapes).
struct ValueLayout {
  bool optional = false;
  bool empty = false;      // an optional without an element
  bool sequence = false;   // a sequence, or an optional holding one
  std::vector<Shape> shapes;  // sequence: the shape of each element
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
  // Sequences and optionals: per input/output, its layout (nullptr for a tensor), the
  // gradient of each sequence-valued output (nullptr when none flows) and, set by the rule,
  // of each wanted sequence-valued input. Tensor gradients (an optional's tensor included)
  // stay in output_grads / input_grads.
  std::vector<const ValueLayout*> input_layouts = {}, output_layouts = {};
  std::vector<const SequenceGrad*> output_sequence_grads = {};
  std::vector<const Value*> input_values = {};  // sequence inputs a sequence rule asked for (needs), else nullptr
  std::vector<std::optional<SequenceGrad>> input_sequence_grads = {};

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
  const ValueLayout* input_layout(size_t i) const { return i < input_layouts.size() ? input_layouts[i] : nullptr; }
  const ValueLayout* output_layout(size_t j) const { return j < output_layouts.size() ? output_layouts[j] : nullptr; }
  bool input_is_sequence(size_t i) const { return input_layout(i) && input_layout(i)->sequence; }
  bool output_is_sequence(size_t j) const { return output_layout(j) && output_layout(j)->sequence; }
  const SequenceGrad* output_sequence_grad(size_t j) const {
    return j < output_sequence_grads.size() ? output_sequence_grads[j] : nullptr;
  }
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
  // The rule takes and gives sequence gradients (BackwardContext's output_sequence_grads,
  // input_sequence_grads); any other rule given one stops with an error naming the node.
  bool takes_sequences = false;
};

class GradRegistry {
 public:
  void add(std::string op_type, IndexMask differentiable, NeedsFunction needs, BackwardFunction backward,
           std::string domain = "", SupportsFunction supports = nullptr);
  // A default-domain rule that carries sequence (and optional) gradients too.
  void add_sequence_rule(std::string op_type, IndexMask differentiable, NeedsFunction needs, BackwardFunction backward);
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
