// Interpreter: runs an ir::Model on the CPU.
//   create(): copies the graph, folds constants, inlines constant Ifs, checks that every op
//             has a kernel (listing all that do not), plans the order and value lifetimes,
//             and prepares each kernel once (weights get packed here).
//   run():    validates feeds against the declared inputs, runs the kernels in order, and
//             frees each intermediate as soon as its last reader has run (TensorPool).
//             Values that follow from the feeds' shapes alone (Shape, then what deterministic
//             ops compute from it and from constants: masks, positions, reshape targets) are
//             kept from the previous run and reused while the feeds' shapes stay the same
//             (an observer is still given them).
// Shapes are inferred at run time by the kernels, so dynamic shapes and shape subgraphs work.
// value_info shapes are ignored (exports specialise them to batch 1).
// Sequences and optionals (ir/value.h) flow between the kernels that take them (value_kernel.h)
// and through run_values; a tensor kernel given one stops with invalid_input naming the node.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/value.h"
#include "runtime/kernel.h"
#include "runtime/tensor_pool.h"

namespace ember::runtime {

class ValueKernel;

struct InterpreterOptions {
  int threads = 0;  // <= 0: all cores
  const KernelRegistry* registry = nullptr;  // nullptr: default_registry()
  bool fold_constants = true;
  // Quantized patterns (QDQ, MatMulInteger, MatMulNBits) run on integer kernels (rewrite_integer.h).
  bool integer_kernels = true;
  // MatMul + bias and erf-GELU subgraphs become fused ops (rewrite_float.h), and activations
  // between convs stay channels-last (rewrite_channels_last.h). Off by default: the fused-away
  // intermediate values can then not be observed or fetched.
  bool fuse_float = false;
  // Only the GELU fusions (implied by fuse_float): the backward interpreter's forward pass.
  bool fuse_gelu = false;
  // Where kernels look up and record the weights they pack (pack_store.h); nullptr: no cache.
  PackStore* packs = nullptr;
};

// Called after each node with every value it produced; used by calibration and analysis.
using ValueObserver = std::function<Status(const std::string& value_name, const Tensor& value)>;
// Called, beside a ValueObserver, with every sequence or optional a node produced (the
// backward interpreter records their layout: lengths and element shapes).
using NonTensorObserver = std::function<Status(const std::string& value_name, const Value& value)>;

class Interpreter {
 public:
  static Result<std::unique_ptr<Interpreter>> create(const ir::Model& model, const InterpreterOptions& options = {});

  // Outputs in the order of the graph's outputs (tensors: a sequence or optional output is
  // invalid_input, see run_values).
  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor>& feeds, const ValueObserver& observer = nullptr);
  // Runs and returns the named values (graph outputs or intermediates), kept alive to the end.
  Result<std::map<std::string, Tensor>> run_and_fetch(const std::map<std::string, Tensor>& feeds,
                                                      const std::vector<std::string>& names);
  // Feeds and outputs of any kind: tensors, sequences, optionals. A graph input declared with
  // a non-tensor type takes a sequence or an optional; one declared without a type takes any.
  // `observer` sees the tensors and `others` the sequences and optionals the nodes produce.
  Result<std::vector<Value>> run_values(const std::map<std::string, Value>& feeds, const ValueObserver& observer = nullptr,
                                        const NonTensorObserver& others = nullptr);

  const std::vector<const ir::ValueInfo*>& feed_inputs() const { return feed_inputs_; }
  std::vector<std::string> output_names() const;
  const ir::Model& model() const { return model_; }  // the simplified copy that runs
  size_t peak_activation_bytes() const { return pool_.peak_bytes_in_use(); }

 private:
  struct Step {
    const ir::Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> inputs;           // value slots, -1 for omitted
    std::vector<int> outputs;          // value slots, -1 for omitted
    std::vector<int> release_after;    // slots whose last reader is this step
    bool shape_static = false;         // its outputs depend only on the feeds' shapes
    ValueKernel* value_kernel = nullptr;  // `kernel` when it runs on Values (value_kernel.h)
  };
  struct Frame;  // one run's values, per slot (interpreter.cc)
  Interpreter() = default;
  Status check_supported(const KernelRegistry& registry) const;
  Status plan(const KernelRegistry& registry);
  Status check_feed(const ir::ValueInfo& info, const Value& value) const;
  Status bind_feeds(const std::map<std::string, Value>& feeds, Frame& frame) const;
  Status run_step(Step& step, Frame& frame, const ValueObserver& observer);
  Status run_value_step(Step& step, Frame& frame, const ValueObserver& observer);
  const NonTensorObserver* others_observer_ = nullptr;  // set during a run_values() given one
  Result<std::vector<Value>> execute(const std::map<std::string, Value>& feeds, const ValueObserver& observer,
                                     const std::vector<int>& keep_slots);
  Result<std::vector<Tensor>> execute_tensors(const std::map<std::string, Tensor>& feeds, const ValueObserver& observer,
                                              const std::vector<int>& keep_slots);

  ir::Model model_;
  std::vector<const ir::ValueInfo*> feed_inputs_;
  std::map<std::string, int> slot_of_;
  std::vector<Tensor> constants_;      // per slot: initializer view, or undefined
  std::vector<Step> steps_;
  std::vector<int> output_slots_;
  TensorPool pool_;
  // The outputs of the shape-static steps (masks, positions, reshape targets computed from
  // Shape) in the last run, valid while the feeds keep the shapes they had then.
  std::vector<Shape> static_for_shapes_;
  std::vector<std::vector<Tensor>> static_outputs_;  // per step (empty for the others)
  bool static_valid_ = false;
  PackStore* packs_ = nullptr;
};

}  // namespace ember::runtime
