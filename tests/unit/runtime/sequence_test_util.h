// Builders for the sequence and optional tests: graphs whose inputs and outputs are values of
// any kind, run through Interpreter::run_values.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/value.h"
#include "runtime/interpreter.h"
#include "tests/unit/test_support.h"

namespace ember::sequence_test {

// A graph input or output declared as a sequence or an optional (the runtime only tells
// tensors from the rest; the TypeProto stays empty).
inline ir::ValueInfo non_tensor(const std::string& name) {
  ir::ValueInfo v;
  v.name = name;
  v.is_tensor = false;
  return v;
}

inline ir::Attribute graph_attr(const std::string& name, ir::Graph g) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kGraph;
  a.g = std::make_shared<ir::Graph>(std::move(g));
  return a;
}

// A subgraph with untyped inputs and outputs (they take values of any kind).
inline ir::Graph body(std::vector<ir::Node> nodes, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  ir::Graph g;
  g.name = "body";
  g.nodes = std::move(nodes);
  for (const auto& in : inputs) g.inputs.push_back(test::value_info(in, DType::kUndefined));
  for (const auto& out : outputs) g.outputs.push_back(test::value_info(out, DType::kUndefined));
  return g;
}

// Inputs: tensors of the given types, and the `sequences` (non-tensor) ones; untyped outputs.
inline ir::Model model(std::vector<ir::Node> nodes, const std::vector<std::pair<std::string, DType>>& tensors,
                       const std::vector<std::string>& outputs, const std::vector<std::string>& sequences = {},
                       int64_t opset = 18) {
  ir::Model m = test::empty_model(opset);
  m.graph.nodes = std::move(nodes);
  for (const auto& [name, t] : tensors) m.graph.inputs.push_back(test::value_info(name, t));
  for (const auto& name : sequences) m.graph.inputs.push_back(non_tensor(name));
  for (const auto& out : outputs) m.graph.outputs.push_back(test::value_info(out, DType::kUndefined));
  return m;
}

inline Result<std::vector<Value>> run(const ir::Model& m, const std::map<std::string, Value>& feeds) {
  auto interp = runtime::Interpreter::create(m);
  if (!interp.ok()) return interp.status();
  return (*interp)->run_values(feeds);
}

inline Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(std::move(shape), v); }
inline std::vector<float> floats(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }

// The elements of a sequence value, as float vectors.
inline std::vector<std::vector<float>> contents(const Value& seq) {
  std::vector<std::vector<float>> out;
  for (const auto& t : seq.elements()) out.push_back(floats(t));
  return out;
}

}  // namespace ember::sequence_test
