// Optional, OptionalHasElement, OptionalGetElement (opsets 15 and 18), Identity over any value,
// and If returning sequences and optionals; the bad inputs they reject naming the node.
#include <doctest/doctest.h>

#include "runtime/single_op.h"
#include "runtime/value_kernel.h"
#include "tests/unit/runtime/sequence_test_util.h"

namespace ember::sequence_test {
namespace {

using test::node;

// Optional's `type` attribute as the loader keeps it: the serialized AttributeProto
// {name: "type", type: TYPE_PROTO (13), tp (14): TypeProto{tensor_type (1) {elem_type (1): 7}}}.
ir::Attribute type_attr_int64_tensor() {
  ir::Attribute a;
  a.name = "type";
  a.kind = ir::AttrKind::kOther;
  const std::string tensor_type = {0x08, 0x07};                                         // elem_type = 7
  const std::string type_proto = std::string{0x0A, char(tensor_type.size())} + tensor_type;  // tensor_type
  a.opaque = std::string{0x0A, 0x04} + "type" + std::string{0x20, 0x0D} + std::string{0x72, char(type_proto.size())} + type_proto;
  return a;
}

}  // namespace

TEST_CASE("Optional wraps a tensor or a sequence, or is empty of the attribute's type") {
  ir::Node empty = node("Optional", "none", {}, {"none"});
  empty.attributes.push_back(type_attr_int64_tensor());
  ir::Model m = model({node("Optional", "wrap", {"x"}, {"o"}), node("OptionalHasElement", "has", {"o"}, {"has"}),
                       node("OptionalGetElement", "get", {"o"}, {"got"}), empty, node("OptionalHasElement", "has_none", {"none"}, {"has_none"}),
                       node("SequenceConstruct", "seq", {"x"}, {"s"}), node("Optional", "wrap_seq", {"s"}, {"os"}),
                       node("OptionalGetElement", "get_seq", {"os"}, {"s_back"})},
                      {{"x", DType::kF32}}, {"o", "has", "got", "none", "has_none", "s_back"}, {}, 15);
  auto out = run(m, {{"x", f32({2}, {1, 2})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)[0].is_optional());
  CHECK((*out)[0].has_element());
  CHECK((*out)[1].tensor().data<uint8_t>()[0] == 1);
  CHECK(floats((*out)[2].tensor()) == std::vector<float>{1, 2});
  REQUIRE((*out)[3].is_optional());
  CHECK_FALSE((*out)[3].has_element());
  CHECK((*out)[3].elem_type() == DType::kI64);
  CHECK((*out)[3].inner_kind() == Value::Kind::kTensor);
  CHECK((*out)[4].tensor().data<uint8_t>()[0] == 0);
  CHECK(contents((*out)[5]) == std::vector<std::vector<float>>{{1, 2}});
}

TEST_CASE("Opset 18 OptionalHasElement / OptionalGetElement take tensors and a missing input, 15 refuses them") {
  ir::Model m18 = model({node("OptionalHasElement", "has_t", {"x"}, {"a"}), node("OptionalHasElement", "has_missing", {""}, {"b"}),
                         node("OptionalGetElement", "get_t", {"x"}, {"c"})},
                        {{"x", DType::kF32}}, {"a", "b", "c"}, {}, 18);
  auto out = run(m18, {{"x", f32({1}, {3})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)[0].tensor().data<uint8_t>()[0] == 1);
  CHECK((*out)[1].tensor().data<uint8_t>()[0] == 0);
  CHECK(floats((*out)[2].tensor()) == std::vector<float>{3});
  ir::Model m15 = model({node("OptionalGetElement", "get15", {"x"}, {"c"})}, {{"x", DType::kF32}}, {"c"}, {}, 15);
  auto bad = run(m15, {{"x", f32({1}, {3})}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidInput);
  CHECK(bad.status().message().find("node 'get15' (OptionalGetElement): the input must be an optional") != std::string::npos);
}

TEST_CASE("OptionalGetElement of an empty optional, and Optional of an optional, are invalid input") {
  ir::Model m = model({node("OptionalGetElement", "get", {"o"}, {"y"})}, {}, {"y"}, {"o"}, 18);
  auto empty = run(m, {{"o", Value::none(Value::Kind::kTensor, DType::kF32)}});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message().find("node 'get' (OptionalGetElement): the optional input is empty") != std::string::npos);
  ir::Model nested = model({node("Optional", "wrap", {"o"}, {"y"})}, {}, {"y"}, {"o"}, 18);
  auto twice = run(nested, {{"o", Value::some(f32({1}, {1}))}});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.status().message().find("node 'wrap' (Optional)") != std::string::npos);
}

TEST_CASE("If returns a sequence or an optional, Identity passes any value") {
  ir::Node choose = node("If", "choose", {"cond"}, {"y"});
  choose.attributes.push_back(graph_attr("then_branch", body({node("SequenceConstruct", "make", {"x"}, {"s"})}, {}, {"s"})));
  choose.attributes.push_back(graph_attr("else_branch", body({node("Optional", "wrap", {"x"}, {"o"})}, {}, {"o"})));
  ir::Model m = model({choose, node("Identity", "same", {"y"}, {"z"})}, {{"cond", DType::kBool}, {"x", DType::kF32}}, {"z"}, {}, 18);
  Tensor yes = Tensor::zeros(DType::kBool, {});
  yes.mutable_data<uint8_t>()[0] = 1;
  auto seq = run(m, {{"cond", yes}, {"x", f32({1}, {7})}});
  REQUIRE_MESSAGE(seq.ok(), seq.status().message());
  CHECK(contents((*seq)[0]) == std::vector<std::vector<float>>{{7}});
  auto opt = run(m, {{"cond", Tensor::zeros(DType::kBool, {})}, {"x", f32({1}, {7})}});
  REQUIRE_MESSAGE(opt.ok(), opt.status().message());
  CHECK((*opt)[0].is_optional());
}

TEST_CASE("A value kernel run on tensors alone (constant folding) gives tensors, and refuses to return a sequence") {
  auto has = runtime::run_single_op(node("OptionalHasElement", "h", {"x"}, {"y"}), 18, {f32({1}, {1})}, true, runtime::default_registry());
  REQUIRE_MESSAGE(has.ok(), has.status().message());
  CHECK((*has)[0].data<uint8_t>()[0] == 1);
  auto seq = runtime::run_single_op(node("SequenceConstruct", "s", {"x"}, {"y"}), 18, {f32({1}, {1})}, true, runtime::default_registry());
  REQUIRE_FALSE(seq.ok());
  CHECK(seq.status().message().find("node 's' (SequenceConstruct): output 0 is a sequence") != std::string::npos);
  // Folding leaves SequenceConstruct of a constant to run time, where it works.
  ir::Model m = model({node("SequenceConstruct", "s", {"w"}, {"y"})}, {}, {"y"}, {}, 18);
  m.graph.set_initializer("w", f32({1}, {4}));
  auto out = run(m, {});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK(contents((*out)[0]) == std::vector<std::vector<float>>{{4}});
}

}  // namespace ember::sequence_test
