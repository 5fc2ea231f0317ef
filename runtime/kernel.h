// Kernel interface, two phases as in TFLite Micro:
//   prepare: runs once at load. Validates attributes and constant inputs, packs weights.
//   run:     the hot path. Reads input tensors, infers output shapes, computes outputs.
// Kernels are created by factories listed per op family in kernels.def (no static
// initialisers); each family file registers its ops in a table at its top.
#pragma once
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime {

class PackStore;

class MissingInput : public std::runtime_error {
 public:
  explicit MissingInput(size_t index, const char* kind = "input")
      : std::runtime_error(std::string(kind) + " " + std::to_string(index) + " is missing, and the operator needs it") {}
};

class TensorAllocator {
 public:
  virtual ~TensorAllocator() = default;
  // Uninitialised (contents unspecified) storage, 64-byte aligned, reused across values.
  virtual Tensor allocate(DType dtype, Shape shape) = 0;
};

struct PrepareContext {
  const ir::Node& node;
  int64_t opset;                               // opset version of the node's domain
  std::vector<const Tensor*> constant_inputs;  // per input: the initializer, or nullptr
  // Packed weights kept from an earlier load (pack_store.h); nullptr: pack as usual.
  PackStore* packs = nullptr;
  const Tensor* constant(size_t index) const {
    return index < constant_inputs.size() ? constant_inputs[index] : nullptr;
  }
};

struct RunContext {
  const ir::Node& node;
  const std::vector<const Tensor*>& inputs;  // nullptr for omitted optional inputs
  std::vector<Tensor>& outputs;              // sized to node.outputs; kernels assign them
  TensorAllocator& allocator;

  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  // A model may give a node fewer inputs than its op needs (Range with two): asking for one
  // that is absent throws MissingInput, which kernel_guard.h turns into invalid_input.
  const Tensor& input(size_t i) const {
    if (i >= inputs.size() || !inputs[i]) throw MissingInput(i);
    return *inputs[i];
  }
  // Likewise for an output the node lacks (a Range node with no outputs).
  Tensor& allocate_output(size_t i, DType dtype, Shape shape) {
    if (i >= outputs.size()) throw MissingInput(i, "output");
    outputs[i] = allocator.allocate(dtype, std::move(shape));
    return outputs[i];
  }
  // "node 'name' (Op)": for error messages.
  std::string where() const { return "node '" + node.name + "' (" + node.op_type + ")"; }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status prepare(const PrepareContext&) { return Status::Ok(); }
  virtual Status run(RunContext& ctx) = 0;
};

// A kernel with no prepared state: a plain function.
using RunFunction = Status (*)(RunContext&);
class FunctionKernel final : public Kernel {
 public:
  explicit FunctionKernel(RunFunction fn) : fn_(fn) {}
  Status run(RunContext& ctx) override { return fn_(ctx); }

 private:
  RunFunction fn_;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>()>;

struct KernelDef {
  std::string op_type;
  std::string domain;        // "" for the default domain, "com.microsoft", ...
  int since_version = 1;     // lowest opset this kernel implements
  KernelFactory make;
};

class KernelRegistry {
 public:
  void add(std::string op_type, std::string domain, int since_version, KernelFactory make);
  void add_function(std::string op_type, std::string domain, int since_version, RunFunction fn);
  // The kernel with the highest since_version <= opset; nullptr when none.
  const KernelDef* find(std::string_view op_type, std::string_view domain, int64_t opset) const;
  const std::vector<KernelDef>& all() const { return defs_; }

 private:
  std::vector<KernelDef> defs_;
};

// The registry with every kernel family of kernels.def; built once, on first use.
const KernelRegistry& default_registry();

}  // namespace ember::runtime
