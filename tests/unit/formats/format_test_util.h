// Helpers for the formats tests: a scratch directory, whole-file reads, and a small model
// that uses every part of the ONNX format the loader and writer must carry. The common
// builders come from the shared test_support.h (same namespace).
#pragma once
#include <google/protobuf/unknown_field_set.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ir/model.h"
#include "tests/unit/test_support.h"

namespace ember::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ember-formats-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  size_t count_files() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(path_)) n += e.is_regular_file();
    return n;
  }

 private:
  std::string path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline ir::ValueInfo tensor_info(const std::string& name, DType type, std::vector<ir::Dim> dims) {
  ir::ValueInfo v = value_info(name, type);
  v.has_shape = true;
  v.dims = std::move(dims);
  return v;
}

// A field number onnx 1.12 does not know (NodeProto.metadata_props is 9 in IR 10).
inline std::string unknown_field_bytes(int field, const std::string& payload) {
  google::protobuf::UnknownFieldSet set;
  set.AddLengthDelimited(field, payload);
  std::string bytes;
  set.SerializeToString(&bytes);
  return bytes;
}

inline std::shared_ptr<ir::Graph> branch(const std::string& name, const std::string& op, const std::string& out) {
  auto g = std::make_shared<ir::Graph>();
  g->name = name;
  g->nodes.push_back(node(op, name + "_node", {"y"}, {out}));  // "y" from the outer scope
  g->outputs.push_back(tensor_info(out, DType::kF32, {{-1, "N"}, {4, ""}}));
  g->set_initializer(name + "_unused", Tensor::from_vector<float>({1}, {7.0f}));
  return g;
}

// x[N,4] -MatMul(w)-> y -If(cond)-> z, with every attribute kind, metadata, value_info,
// an int4 initializer of odd length, strings, f16, an opaque function and unknown fields.
inline ir::Model make_test_model() {
  ir::Model m;
  m.ir_version = 10;
  m.opset_imports = {{"", 21}, {"ember.test", 1}};
  m.producer_name = "ember-tests";
  m.producer_version = "0.1";
  m.domain = "org.ember";
  m.model_version = 3;
  m.doc_string = "a model for round trips";
  m.metadata_props = {{"author", "tests"}, {"purpose", "round trip"}};
  onnx::FunctionProto fn;
  fn.set_name("MyFn");
  fn.set_domain("ember.test");
  fn.add_input("a");
  fn.add_output("b");
  m.opaque_functions.push_back(fn.SerializeAsString());
  m.unknown_fields = unknown_field_bytes(99, "model extra");

  ir::Graph& g = m.graph;
  g.name = "main";
  g.doc_string = "main graph";
  g.unknown_fields = unknown_field_bytes(16, "graph metadata");
  g.inputs.push_back(tensor_info("x", DType::kF32, {{-1, "N"}, {4, ""}}));
  g.inputs.push_back(tensor_info("cond", DType::kBool, {}));
  g.inputs.back().doc_string = "branch selector";
  std::vector<float> w(16);
  for (int i = 0; i < 16; ++i) w[size_t(i)] = 0.25f * float(i) - 1.0f;
  g.set_initializer("w", Tensor::from_vector<float>({4, 4}, w));
  Tensor q = Tensor::zeros(DType::kI4, {5});
  const uint8_t packed[3] = {0x71, 0xF8, 0x03};  // 1, 7, -8, -1, 3
  std::memcpy(q.raw_mutable(), packed, 3);
  g.set_initializer("q4", q);
  g.set_initializer("labels", Tensor::strings({2}, {"alpha", std::string("b\0c", 3)}));
  Tensor h = Tensor::zeros(DType::kF16, {3});
  for (int i = 0; i < 3; ++i) h.mutable_data<uint16_t>()[i] = float_to_half(0.5f * float(i + 1));
  g.set_initializer("h", h);
  g.set_initializer("empty", Tensor::zeros(DType::kI64, {0, 3}));

  ir::Node mm;
  mm.name = "mm";
  mm.op_type = "MatMul";
  mm.inputs = {"x", "w"};
  mm.outputs = {"y"};
  mm.doc_string = "matmul doc";
  mm.unknown_fields = unknown_field_bytes(9, "stack trace");
  g.nodes.push_back(mm);

  ir::Node custom;
  custom.name = "custom";
  custom.op_type = "Everything";
  custom.domain = "ember.test";
  custom.inputs = {"y", "", "q4"};
  custom.outputs = {"c"};
  auto a = attr_of("f", ir::AttrKind::kFloat); a.f = 0.125f; a.doc_string = "a float"; custom.attributes.push_back(a);
  a = attr_of("i", ir::AttrKind::kInt); a.i = -42; custom.attributes.push_back(a);
  a = attr_of("s", ir::AttrKind::kString); a.s = std::string("bytes\0here", 10); custom.attributes.push_back(a);
  a = attr_of("floats", ir::AttrKind::kFloats); a.floats = {1.5f, -2.0f}; custom.attributes.push_back(a);
  a = attr_of("ints", ir::AttrKind::kInts); a.ints = {1, -2, 3}; custom.attributes.push_back(a);
  a = attr_of("strings", ir::AttrKind::kStrings); a.strings = {"a", "bc"}; custom.attributes.push_back(a);
  a = attr_of("t", ir::AttrKind::kTensor); a.t = Tensor::from_vector<int64_t>({2}, {5, -6}); custom.attributes.push_back(a);
  a = attr_of("ts", ir::AttrKind::kTensors);
  a.tensors = {Tensor::scalar<double>(2.5), Tensor::from_vector<uint8_t>({3}, {1, 2, 255})};
  custom.attributes.push_back(a);
  a = attr_of("gs", ir::AttrKind::kGraphs);
  a.graphs = {branch("g0", "Relu", "r0"), branch("g1", "Sigmoid", "r1")};
  custom.attributes.push_back(a);
  onnx::AttributeProto type_attr;  // a kind Ember does not model: kept as opaque bytes
  type_attr.set_name("tp");
  type_attr.set_type(onnx::AttributeProto::TYPE_PROTO);
  type_attr.mutable_tp()->mutable_tensor_type()->set_elem_type(1);
  a = attr_of("tp", ir::AttrKind::kOther);
  a.opaque = type_attr.SerializeAsString();
  custom.attributes.push_back(a);
  a = attr_of("ref", ir::AttrKind::kInt); a.ref_attr_name = "outer_ref"; custom.attributes.push_back(a);
  g.nodes.push_back(custom);

  ir::Node iff;
  iff.name = "if";
  iff.op_type = "If";
  iff.inputs = {"cond"};
  iff.outputs = {"z"};
  a = attr_of("then_branch", ir::AttrKind::kGraph); a.g = branch("then", "Identity", "z_then"); iff.attributes.push_back(a);
  a = attr_of("else_branch", ir::AttrKind::kGraph); a.g = branch("else", "Neg", "z_else"); iff.attributes.push_back(a);
  g.nodes.push_back(iff);

  g.outputs.push_back(tensor_info("z", DType::kF32, {{-1, "N"}, {4, ""}}));
  g.outputs.push_back(tensor_info("c", DType::kUndefined, {}));
  g.outputs.back().has_shape = false;
  ir::ValueInfo y = tensor_info("y", DType::kF32, {{-1, "N"}, {4, ""}, {-1, ""}});
  y.doc_string = "matmul output";
  y.unknown_fields = unknown_field_bytes(4, "value metadata");  // 3 is doc_string
  g.value_info.push_back(y);
  onnx::TypeProto seq;  // a non-tensor type, kept opaque
  seq.mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
  ir::ValueInfo s;
  s.name = "some_sequence";
  s.is_tensor = false;
  s.opaque_type = seq.SerializeAsString();
  g.value_info.push_back(s);
  onnx::TensorAnnotation annotation;
  annotation.set_tensor_name("w");
  g.opaque_quantization_annotations.push_back(annotation.SerializeAsString());
  return m;
}

}  // namespace ember::test
