// Shape-family kernels: views, constants and the copy ops, with hand-computed expectations,
// opset differences and errors that must name the node.
#include <doctest/doctest.h>

#include <cstdint>

#include "tests/unit/runtime/shape_test_util.h"

using namespace ember;
using namespace shape_test;

namespace {

std::vector<int64_t> shape_of(const Result<std::vector<Tensor>>& r, size_t i = 0) { return (*r)[i].shape(); }

void check_error_names_node(const Result<std::vector<Tensor>>& r, const std::string& op) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(r.status().message().find("n_" + op) != std::string::npos);
}

}  // namespace

TEST_CASE("shape ops: Shape honours start/end (opset 15) and Size counts elements") {
  const Tensor x = iota_f32({2, 3, 4, 5});
  auto all = run(node("Shape", 1, 1), 13, {x});
  REQUIRE(all.ok());
  CHECK(values<int64_t>((*all)[0]) == std::vector<int64_t>{2, 3, 4, 5});
  auto part = run(node("Shape", 1, 1, {int_attr("start", 1), int_attr("end", -1)}), 15, {x});
  REQUIRE(part.ok());
  CHECK(values<int64_t>((*part)[0]) == std::vector<int64_t>{3, 4});
  auto clipped = run(node("Shape", 1, 1, {int_attr("start", -10), int_attr("end", 10)}), 15, {x});
  CHECK(values<int64_t>((*clipped)[0]) == std::vector<int64_t>{2, 3, 4, 5});
  auto empty = run(node("Shape", 1, 1, {int_attr("start", 3), int_attr("end", 1)}), 15, {x});
  CHECK((*empty)[0].numel() == 0);
  auto size = run(node("Size", 1, 1), 13, {x});
  REQUIRE(size.ok());
  CHECK((*size)[0].rank() == 0);
  CHECK((*size)[0].data<int64_t>()[0] == 120);
}

TEST_CASE("shape ops: Reshape copies 0 dims, infers -1, honours allowzero, returns a view") {
  const Tensor x = iota_f32({2, 3, 4});
  auto r = run(node("Reshape", 2, 1), 13, {x, i64s({0, -1})});
  REQUIRE(r.ok());
  CHECK(shape_of(r) == Shape{2, 12});
  CHECK((*r)[0].raw() == x.raw());
  auto scalar = run(node("Reshape", 2, 1), 13, {f32({1, 1}, {7}), i64s({})});
  REQUIRE(scalar.ok());
  CHECK(shape_of(scalar) == Shape{});
  // allowzero: 0 is a real dimension, so an empty tensor can take shape [0, 4].
  const Tensor empty = Tensor::zeros(DType::kF32, {0, 3});
  auto zero = run(node("Reshape", 2, 1, {int_attr("allowzero", 1)}), 14, {empty, i64s({3, 0})});
  REQUIRE(zero.ok());
  CHECK(shape_of(zero) == Shape{3, 0});
  auto copied = run(node("Reshape", 2, 1), 14, {empty, i64s({0, 3})});
  REQUIRE(copied.ok());
  CHECK(shape_of(copied) == Shape{0, 3});
  check_error_names_node(run(node("Reshape", 2, 1), 13, {x, i64s({5, -1})}), "Reshape");
  check_error_names_node(run(node("Reshape", 2, 1), 13, {x, i64s({-1, -1})}), "Reshape");
  check_error_names_node(run(node("Reshape", 2, 1), 13, {x, i64s({0, 0, 0, 0})}), "Reshape");
}

TEST_CASE("shape ops: Flatten, Squeeze, Unsqueeze and Identity are views") {
  const Tensor x = iota_f32({2, 1, 3, 1});
  auto f = run(node("Flatten", 1, 1, {int_attr("axis", 2)}), 13, {x});
  CHECK(shape_of(f) == Shape{2, 3});
  CHECK((*f)[0].raw() == x.raw());
  CHECK(shape_of(run(node("Flatten", 1, 1, {int_attr("axis", 0)}), 13, {x})) == Shape{1, 6});
  CHECK(shape_of(run(node("Flatten", 1, 1, {int_attr("axis", -1)}), 13, {x})) == Shape{6, 1});
  CHECK(shape_of(run(node("Flatten", 1, 1), 13, {x})) == Shape{2, 3});
  check_error_names_node(run(node("Flatten", 1, 1, {int_attr("axis", 5)}), 13, {x}), "Flatten");

  // Squeeze: axes attribute before opset 13, input from 13 on; none means every 1.
  CHECK(shape_of(run(node("Squeeze", 1, 1, {ints_attr("axes", {-1})}), 11, {x})) == Shape{2, 1, 3});
  CHECK(shape_of(run(node("Squeeze", 2, 1), 13, {x, i64s({1})})) == Shape{2, 3, 1});
  auto all = run(node("Squeeze", 1, 1), 13, {x});
  CHECK(shape_of(all) == Shape{2, 3});
  CHECK((*all)[0].raw() == x.raw());
  check_error_names_node(run(node("Squeeze", 2, 1), 13, {x, i64s({0})}), "Squeeze");
  check_error_names_node(run(node("Squeeze", 2, 1), 13, {x, i64s({4})}), "Squeeze");

  const Tensor v = iota_f32({3, 4});
  CHECK(shape_of(run(node("Unsqueeze", 1, 1, {ints_attr("axes", {0, 3})}), 11, {v})) == Shape{1, 3, 4, 1});
  CHECK(shape_of(run(node("Unsqueeze", 2, 1), 13, {v, i64s({3, -3})})) == Shape{3, 1, 4, 1});  // -3 is axis 1 of 4
  CHECK(shape_of(run(node("Unsqueeze", 2, 1), 13, {v, i64s({2, 0})})) == Shape{1, 3, 1, 4});
  check_error_names_node(run(node("Unsqueeze", 2, 1), 13, {v, i64s({1, 1})}), "Unsqueeze");
  check_error_names_node(run(node("Unsqueeze", 2, 1), 13, {v, i64s({3})}), "Unsqueeze");

  auto id = run(node("Identity", 1, 1), 16, {v});
  CHECK((*id)[0].raw() == v.raw());
}

TEST_CASE("shape ops: Constant takes every value_* form") {
  auto tensor = run(node("Constant", 0, 1, {tensor_attr("value", f32({2}, {1.5f, -2}))}), 13, {});
  CHECK(values<float>((*tensor)[0]) == std::vector<float>{1.5f, -2});
  auto one_float = run(node("Constant", 0, 1, {float_attr("value_float", 0.25f)}), 13, {});
  CHECK((*one_float)[0].rank() == 0);
  CHECK((*one_float)[0].data<float>()[0] == 0.25f);
  ir::Attribute floats;
  floats.name = "value_floats";
  floats.kind = ir::AttrKind::kFloats;
  floats.floats = {1, 2, 3};
  CHECK(values<float>((*run(node("Constant", 0, 1, {floats}), 13, {}))[0]) == std::vector<float>{1, 2, 3});
  auto one_int = run(node("Constant", 0, 1, {int_attr("value_int", -7)}), 13, {});
  CHECK((*one_int)[0].dtype() == DType::kI64);
  CHECK((*one_int)[0].data<int64_t>()[0] == -7);
  auto ints = run(node("Constant", 0, 1, {ints_attr("value_ints", {4, 5})}), 13, {});
  CHECK(values<int64_t>((*ints)[0]) == std::vector<int64_t>{4, 5});
  auto str = run(node("Constant", 0, 1, {string_attr("value_string", "hi")}), 13, {});
  CHECK((*str)[0].string_values() == std::vector<std::string>{"hi"});
  ir::Attribute strings;
  strings.name = "value_strings";
  strings.kind = ir::AttrKind::kStrings;
  strings.strings = {"a", "b"};
  auto strs = run(node("Constant", 0, 1, {strings}), 13, {});
  CHECK((*strs)[0].shape() == Shape{2});
  CHECK((*strs)[0].string_values() == std::vector<std::string>{"a", "b"});
  check_error_names_node(run(node("Constant", 0, 1), 13, {}), "Constant");
}

TEST_CASE("shape ops: ConstantOfShape and Range") {
  auto zeros = run(node("ConstantOfShape", 1, 1), 9, {i64s({2, 3})});
  REQUIRE(zeros.ok());
  CHECK((*zeros)[0].dtype() == DType::kF32);
  CHECK(values<float>((*zeros)[0]) == std::vector<float>(6, 0.0f));
  auto sevens = run(node("ConstantOfShape", 1, 1, {tensor_attr("value", Tensor::from_vector<int32_t>({1}, {7}))}), 9,
                    {i64s({3})});
  CHECK(values<int32_t>((*sevens)[0]) == std::vector<int32_t>{7, 7, 7});
  auto scalar = run(node("ConstantOfShape", 1, 1), 9, {i64s({})});
  CHECK((*scalar)[0].rank() == 0);
  CHECK(shape_of(run(node("ConstantOfShape", 1, 1), 9, {i64s({0})})) == Shape{0});
  check_error_names_node(run(node("ConstantOfShape", 1, 1), 9, {i64s({-2})}), "ConstantOfShape");

  auto floats = run(node("Range", 3, 1), 11, {Tensor::scalar(1.0f), Tensor::scalar(5.0f), Tensor::scalar(1.5f)});
  CHECK(values<float>((*floats)[0]) == std::vector<float>{1, 2.5f, 4});
  auto down = run(node("Range", 3, 1), 11, {Tensor::scalar<int32_t>(10), Tensor::scalar<int32_t>(4), Tensor::scalar<int32_t>(-3)});
  CHECK(values<int32_t>((*down)[0]) == std::vector<int32_t>{10, 7});
  auto none = run(node("Range", 3, 1), 11, {Tensor::scalar<int64_t>(3), Tensor::scalar<int64_t>(1), Tensor::scalar<int64_t>(1)});
  CHECK((*none)[0].numel() == 0);
  check_error_names_node(
      run(node("Range", 3, 1), 11, {Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(3), Tensor::scalar<int64_t>(0)}),
      "Range");
}

TEST_CASE("shape ops: Concat joins along an axis, Split cuts by attribute, input or num_outputs") {
  const Tensor a = f32({2, 2}, {1, 2, 3, 4});
  const Tensor b = f32({2, 1}, {5, 6});
  auto c = run(node("Concat", 2, 1, {int_attr("axis", -1)}), 13, {a, b});
  REQUIRE(c.ok());
  CHECK(shape_of(c) == Shape{2, 3});
  CHECK(values<float>((*c)[0]) == std::vector<float>{1, 2, 5, 3, 4, 6});
  auto rows = run(node("Concat", 2, 1, {int_attr("axis", 0)}), 13, {a, f32({1, 2}, {9, 8})});
  CHECK(values<float>((*rows)[0]) == std::vector<float>{1, 2, 3, 4, 9, 8});
  check_error_names_node(run(node("Concat", 2, 1, {int_attr("axis", 0)}), 13, {a, b}), "Concat");
  check_error_names_node(run(node("Concat", 2, 1, {int_attr("axis", 2)}), 13, {a, a}), "Concat");

  const Tensor x = iota_f32({2, 6});
  auto by_attr = run(node("Split", 1, 2, {int_attr("axis", 1), ints_attr("split", {2, 4})}), 11, {x});
  REQUIRE(by_attr.ok());
  CHECK(values<float>((*by_attr)[0]) == std::vector<float>{0, 1, 6, 7});
  CHECK(values<float>((*by_attr)[1]) == std::vector<float>{2, 3, 4, 5, 8, 9, 10, 11});
  auto by_input = run(node("Split", 2, 3, {int_attr("axis", 1)}), 13, {x, i64s({1, 0, 5})});
  REQUIRE(by_input.ok());
  CHECK(shape_of(by_input, 1) == Shape{2, 0});
  CHECK(values<float>((*by_input)[0]) == std::vector<float>{0, 6});
  auto equal = run(node("Split", 1, 3, {int_attr("axis", -1)}), 13, {x});
  CHECK(values<float>((*equal)[2]) == std::vector<float>{4, 5, 10, 11});
  // 6 does not split into 4 equal parts: an error before opset 18, parts 2,2,2,0 after.
  check_error_names_node(run(node("Split", 1, 4, {int_attr("axis", 1)}), 13, {x}), "Split");
  auto uneven = run(node("Split", 1, 4, {int_attr("axis", 1), int_attr("num_outputs", 4)}), 18, {x});
  REQUIRE(uneven.ok());
  CHECK(shape_of(uneven, 3) == Shape{2, 0});
  auto five = run(node("Split", 1, 2, {int_attr("axis", 0), int_attr("num_outputs", 2)}), 18, {iota_f32({5})});
  CHECK(values<float>((*five)[0]) == std::vector<float>{0, 1, 2});
  CHECK(values<float>((*five)[1]) == std::vector<float>{3, 4});
  check_error_names_node(run(node("Split", 2, 2, {int_attr("axis", 1)}), 13, {x, i64s({2, 3})}), "Split");
}

TEST_CASE("shape ops: Expand broadcasts both ways, Tile repeats") {
  const Tensor col = f32({3, 1}, {1, 2, 3});
  auto e = run(node("Expand", 2, 1), 13, {col, i64s({2, 1, 2})});
  REQUIRE(e.ok());
  CHECK(shape_of(e) == Shape{2, 3, 2});
  CHECK(values<float>((*e)[0]) == std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  auto same = run(node("Expand", 2, 1), 13, {col, i64s({1, 1})});  // a smaller shape keeps the input's dims
  CHECK(shape_of(same) == Shape{3, 1});
  check_error_names_node(run(node("Expand", 2, 1), 13, {col, i64s({2, 2})}), "Expand");

  auto t = run(node("Tile", 2, 1), 13, {f32({2, 2}, {1, 2, 3, 4}), i64s({2, 2})});
  REQUIRE(t.ok());
  CHECK(shape_of(t) == Shape{4, 4});
  CHECK(values<float>((*t)[0]) == std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4});
  auto gone = run(node("Tile", 2, 1), 13, {f32({2}, {1, 2}), i64s({0})});
  CHECK(shape_of(gone) == Shape{0});
  check_error_names_node(run(node("Tile", 2, 1), 13, {f32({2}, {1, 2}), i64s({1, 1})}), "Tile");
}
