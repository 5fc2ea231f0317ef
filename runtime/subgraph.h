// Subgraphs of control-flow ops (If, Loop, Scan): the values they read from enclosing graphs
// (outer scope), and a runner that executes one body with its own Interpreter.
// The interpreter appends a node's outer-scope reads to its inputs (after the declared ones,
// in the order outer_scope_reads gives), so that their lifetimes are planned like any input;
// the control-flow kernels find them there.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "runtime/kernel.h"
#include "runtime/value_kernel.h"

namespace ember::runtime {

class Interpreter;

// Names read by `graph` (and its nested subgraphs) that it does not define: sorted, unique.
std::vector<std::string> outer_scope_reads(const ir::Graph& graph);
// The same over every graph attribute of `node`; empty for nodes without subgraphs.
std::vector<std::string> outer_scope_reads(const ir::Node& node);
bool has_subgraph(const ir::Node& node);

// While one is alive, every body run on this thread (SubgraphRunner, nested bodies too) reports
// its declared inputs and the values its nodes compute to `observer`, at each run: each Loop
// iteration, Scan step and taken If branch. Calibration watches the inputs of the layers
// inside bodies with it (passes/analysis/layer_inputs.h). Observations nest: the innermost wins.
class BodyObservation {
 public:
  using Observer = std::function<Status(const std::string& value_name, const Tensor& value)>;
  explicit BodyObservation(Observer observer);
  ~BodyObservation();
  BodyObservation(const BodyObservation&) = delete;
  BodyObservation& operator=(const BodyObservation&) = delete;
  // The observer of this thread's innermost live BodyObservation, or nullptr.
  static const Observer* current();

 private:
  Observer observer_;
  const Observer* previous_;
};

// Interpreter::create hands its choice of integer kernels down to the bodies it prepares (each
// runs on an interpreter of its own, made by SubgraphRunner::create on the same thread), so that
// `ember run --reference` dequantizes inside If / Loop / Scan bodies too.
class BodyKernelScope {
 public:
  explicit BodyKernelScope(bool integer_kernels);
  ~BodyKernelScope();
  BodyKernelScope(const BodyKernelScope&) = delete;
  BodyKernelScope& operator=(const BodyKernelScope&) = delete;

 private:
  int previous_;
};

// One body graph, ready to run: its declared inputs and outer-scope reads are fed by name.
class SubgraphRunner {
 public:
  // `opset` is the default-domain opset of the enclosing model; `where` names the owning node.
  static Result<std::unique_ptr<SubgraphRunner>> create(const ir::Graph& body, int64_t opset, const std::string& where);
  ~SubgraphRunner();

  const std::vector<std::string>& outer_names() const { return outer_; }
  const ir::Graph& body() const { return body_; }
  // Feeds: the body's declared inputs, then its outer-scope reads taken from `outer_values`
  // (the owning node's appended inputs, keyed by name). Returns the body's outputs in order.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& declared, const std::map<std::string, const Tensor*>& outer_values);
  // The same with values of any kind (sequences and optionals carried by If, Loop, SequenceMap).
  Result<std::vector<Value>> run_values(const std::vector<Value>& declared, const std::map<std::string, Value>& outer_values);

 private:
  SubgraphRunner() = default;
  ir::Graph body_;
  std::vector<std::string> outer_;
  std::string where_;
  std::unique_ptr<Interpreter> interp_;
};

// The owning node's outer-scope values by name, from the inputs appended after its declared ones.
std::map<std::string, const Tensor*> outer_values(const RunContext& ctx, const std::vector<std::string>& names);
std::map<std::string, Value> outer_values(const ValueRunContext& ctx, const std::vector<std::string>& names);

}  // namespace ember::runtime
