// Model, Graph, Node, ValueInfo, Attribute: an in-memory ONNX model that keeps everything a
// round trip needs (subgraphs, opsets per domain, functions, metadata, doc strings, value_info).
// Values are named by strings exactly as in ONNX; the interpreter maps names to slots once.
// Rare parts Ember never edits (functions, training info, sparse initializers, fields newer
// than Debian's onnx 1.12) are kept as serialized protobuf bytes so that they survive a save.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace ember::ir {

struct Graph;

struct Dim {
  int64_t value = -1;  // -1 when unknown or symbolic
  std::string param;   // symbolic name ("batch"), empty when none
};

struct ValueInfo {
  std::string name;
  bool is_tensor = true;        // false: sequence/map/optional, kept in opaque_type
  DType elem_type = DType::kUndefined;
  bool has_shape = false;
  std::vector<Dim> dims;
  std::string opaque_type;      // serialized TypeProto for non-tensor types
  std::string doc_string;
  std::string unknown_fields;   // serialized fields newer than the proto we were built with
};

enum class AttrKind { kUndefined = 0, kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors, kGraphs, kOther };

struct Attribute {
  // Copies are deep: a copied model's subgraph bodies (If, Loop, Scan) are its own, so editing
  // one copy never changes another (value semantics, as for every other part of a model).
  Attribute() = default;
  Attribute(const Attribute& other);
  Attribute& operator=(const Attribute& other);
  Attribute(Attribute&&) noexcept = default;
  Attribute& operator=(Attribute&&) noexcept = default;
  ~Attribute() = default;

  std::string name;
  AttrKind kind = AttrKind::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  std::string ref_attr_name;    // inside functions
  std::string doc_string;
  std::string opaque;           // serialized AttributeProto for kinds Ember does not model
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;           // "" is the default ONNX domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;
  std::string doc_string;
  std::string unknown_fields;

  const Attribute* find_attr(const std::string& attr_name) const;
  int64_t attr_int(const std::string& attr_name, int64_t fallback) const;
  float attr_float(const std::string& attr_name, float fallback) const;
  std::string attr_string(const std::string& attr_name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& attr_name) const;  // empty when absent
  bool has_input(size_t index) const { return index < inputs.size() && !inputs[index].empty(); }
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;
  std::map<std::string, Tensor> initializers;
  std::vector<std::string> initializer_order;  // file order, so saving keeps it
  std::map<std::string, std::string> external_locations;  // initializer -> external data file it came from
  std::string doc_string;
  std::vector<std::string> opaque_sparse_initializers;
  std::vector<std::string> opaque_quantization_annotations;
  std::string unknown_fields;

  const Tensor* find_initializer(const std::string& value_name) const;
  void set_initializer(const std::string& value_name, Tensor tensor);
  void remove_initializer(const std::string& value_name);
  // Graph inputs that are not initializers: what a caller must feed.
  std::vector<const ValueInfo*> feed_inputs() const;
};

struct OpsetImport {
  std::string domain;
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 0;
  std::vector<OpsetImport> opset_imports;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  Graph graph;
  std::vector<std::string> opaque_functions;      // serialized FunctionProto
  std::vector<std::string> opaque_training_info;  // serialized TrainingInfoProto
  std::string unknown_fields;

  // Opset version imported for a domain ("" and "ai.onnx" are the same); 0 when absent.
  int64_t opset_version(const std::string& op_domain) const;
  void set_opset_version(const std::string& op_domain, int64_t version);
};

// Visits every graph: the main graph, then subgraphs in node attributes, depth first.
template <class F>
void for_each_graph(Graph& graph, F&& f) {
  f(graph);
  for (auto& node : graph.nodes)
    for (auto& attr : node.attributes) {
      if (attr.g) for_each_graph(*attr.g, f);
      for (auto& sub : attr.graphs) for_each_graph(*sub, f);
    }
}

}  // namespace ember::ir
