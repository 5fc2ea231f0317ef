#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "tests/unit/runtime/numeric_op_test_util.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("Add broadcasts same-shape, row, scalar and outer-product operands") {
  const Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  check_values(run1(op_node("Add", 2), 14, {a, Tensor::from_vector<float>({2, 3}, {10, 20, 30, 40, 50, 60})}),
               {11, 22, 33, 44, 55, 66});
  check_values(run1(op_node("Add", 2), 14, {a, Tensor::from_vector<float>({3}, {10, 20, 30})}),
               {11, 22, 33, 14, 25, 36});
  check_values(run1(op_node("Add", 2), 14, {Tensor::scalar<float>(100), a}), {101, 102, 103, 104, 105, 106});
  const Tensor outer =
      run1(op_node("Add", 2), 14,
           {Tensor::from_vector<float>({2, 1}, {10, 20}), Tensor::from_vector<float>({1, 3}, {1, 2, 3})});
  CHECK(outer.shape() == Shape{2, 3});
  check_values(outer, {11, 12, 13, 21, 22, 23});
  // Middle-dim broadcast: [2,1,2] + [3,1] -> [2,3,2].
  const Tensor mid =
      run1(op_node("Add", 2), 14,
           {Tensor::from_vector<float>({2, 1, 2}, {0, 1, 2, 3}), Tensor::from_vector<float>({3, 1}, {0, 10, 20})});
  CHECK(mid.shape() == Shape{2, 3, 2});
  check_values(mid, {0, 1, 10, 11, 20, 21, 2, 3, 12, 13, 22, 23});
}

TEST_CASE("Mul on a tensor large enough to be split across threads matches the formula") {
  const int64_t rows = 300, cols = 257;
  std::vector<float> a(rows * cols), b(cols);
  for (int64_t i = 0; i < rows * cols; ++i) a[size_t(i)] = float(i % 97);
  for (int64_t j = 0; j < cols; ++j) b[size_t(j)] = float(j % 5) - 2;
  const Tensor y =
      run1(op_node("Mul", 2), 14, {Tensor::from_vector<float>({rows, cols}, a), Tensor::from_vector<float>({cols}, b)});
  const float* p = y.data<float>();
  bool all_equal = true;
  for (int64_t i = 0; i < rows * cols; ++i)
    all_equal = all_equal && p[i] == float(i % 97) * (float((i % cols) % 5) - 2);
  CHECK(all_equal);
}

TEST_CASE("integer Div truncates toward zero and never traps") {
  const Tensor y = run1(
      op_node("Div", 2), 14,
      {Tensor::from_vector<int32_t>({5}, {7, -7, 7, -7, 5}), Tensor::from_vector<int32_t>({5}, {2, 2, -2, -2, 0})});
  CHECK(y.dtype() == DType::kI32);
  CHECK(values_of<int32_t>(y) == std::vector<int32_t>{3, -3, -3, 3, 0});
  const Tensor u =
      run1(op_node("Div", 2), 14, {Tensor::from_vector<uint8_t>({2}, {255, 9}), Tensor::scalar<uint8_t>(2)});
  CHECK(values_of<uint8_t>(u) == std::vector<uint8_t>{127, 4});
}

TEST_CASE("Mod follows the divisor's sign by default and the dividend's with fmod=1") {
  const Tensor a = Tensor::from_vector<int64_t>({6}, {-4, 7, 5, 4, -7, 8});
  const Tensor b = Tensor::from_vector<int64_t>({6}, {2, -3, 8, -2, 3, 5});
  CHECK(values_of<int64_t>(run1(op_node("Mod", 2), 13, {a, b})) == std::vector<int64_t>{0, -2, 5, 0, 2, 3});
  CHECK(values_of<int64_t>(run1(op_node("Mod", 2, {int_attr("fmod", 1)}), 13, {a, b})) ==
        std::vector<int64_t>{0, 1, 5, 0, -1, 3});
  const Tensor f = run1(op_node("Mod", 2, {int_attr("fmod", 1)}), 13,
                        {Tensor::from_vector<float>({2}, {-4.5f, 5.5f}), Tensor::from_vector<float>({2}, {2, -2})});
  check_values(f, {-0.5, 1.5});
  const Status s = run_status(op_node("Mod", 2), 13, {Tensor::scalar<float>(1), Tensor::scalar<float>(2)});
  CHECK(s.code() == StatusCode::kInvalidInput);
}

TEST_CASE("Pow keeps the base's type and takes integer or float exponents") {
  CHECK(values_of<int32_t>(run1(op_node("Pow", 2), 15,
                                {Tensor::from_vector<int32_t>({3}, {2, 3, -2}),
                                 Tensor::from_vector<int32_t>({3}, {3, 2, 3})})) == std::vector<int32_t>{8, 9, -8});
  const Tensor f = run1(op_node("Pow", 2), 15,
                        {Tensor::from_vector<float>({3}, {2, 4, 9}), Tensor::from_vector<int64_t>({3}, {-1, 2, 0})});
  CHECK(f.dtype() == DType::kF32);
  check_values(f, {0.5, 16, 1});
  check_values(run1(op_node("Pow", 2), 15, {Tensor::from_vector<float>({3}, {-3, 0.5f, 4}), Tensor::scalar<float>(2)}),
               {9, 0.25, 16});
  check_values(run1(op_node("Pow", 2), 15, {Tensor::from_vector<float>({3}, {-3, 0.5f, 1.1f}), Tensor::scalar<double>(3)}),
               {-27, 0.125, 1.331}, 1e-6);
  check_values(run1(op_node("Pow", 2), 15, {Tensor::from_vector<float>({2}, {-3, 0.5f}), Tensor::scalar<int32_t>(4)}),
               {81, 0.0625});
  check_values(run1(op_node("Pow", 2), 15, {Tensor::from_vector<float>({2}, {4, 8}), Tensor::scalar<float>(0.5f)}),
               {2, std::sqrt(8.0)});
  const Tensor i =
      run1(op_node("Pow", 2), 15, {Tensor::from_vector<int64_t>({2}, {2, 9}), Tensor::scalar<float>(0.5f)});
  CHECK(values_of<int64_t>(i) == std::vector<int64_t>{1, 3});
}

TEST_CASE("variadic Max, Min, Sum and Mean broadcast all inputs, NaN propagates through Max") {
  const Tensor a = Tensor::from_vector<float>({2, 2}, {1, 5, NAN, 0});
  const Tensor b = Tensor::from_vector<float>({2}, {3, 2});
  const Tensor c = Tensor::scalar<float>(4);
  check_values(run1(op_node("Max", 3), 13, {a, b, c}), {4, 5, NAN, 4});
  check_values(run1(op_node("Min", 2), 13, {b, c}), {3, 2});
  check_values(run1(op_node("Sum", 3), 13, {b, b, c}), {10, 8});
  check_values(run1(op_node("Mean", 2), 13, {b, c}), {3.5, 3});
  check_values(run1(op_node("Max", 1), 13, {b}), {3, 2});
  CHECK(values_of<int8_t>(
            run1(op_node("Max", 2), 13, {Tensor::from_vector<int8_t>({2}, {-5, 7}), Tensor::scalar<int8_t>(0)})) ==
        std::vector<int8_t>{0, 7});
}

TEST_CASE("comparisons produce bool tensors with broadcasting") {
  const Tensor a = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4});
  const Tensor b = Tensor::from_vector<int64_t>({2}, {2, 2});
  const Tensor eq = run1(op_node("Equal", 2), 13, {a, b});
  CHECK(eq.dtype() == DType::kBool);
  CHECK(values_of<bool>(eq) == std::vector<bool>{false, true, false, false});
  CHECK(values_of<bool>(run1(op_node("Less", 2), 13, {a, b})) == std::vector<bool>{true, false, false, false});
  CHECK(values_of<bool>(run1(op_node("LessOrEqual", 2), 16, {a, b})) == std::vector<bool>{true, true, false, false});
  CHECK(values_of<bool>(run1(op_node("Greater", 2), 13, {a, b})) == std::vector<bool>{false, false, true, true});
  CHECK(values_of<bool>(run1(op_node("GreaterOrEqual", 2), 16, {a, b})) == std::vector<bool>{false, true, true, true});
  const Tensor fl =
      run1(op_node("Less", 2), 13, {Tensor::from_vector<float>({2}, {0.5f, NAN}), Tensor::scalar<float>(1)});
  CHECK(values_of<bool>(fl) == std::vector<bool>{true, false});
}

TEST_CASE("boolean logic, BitShift and Where") {
  const Tensor t = Tensor::from_vector<bool>({4}, {true, true, false, false});
  const Tensor u = Tensor::from_vector<bool>({4}, {true, false, true, false});
  CHECK(values_of<bool>(run1(op_node("And", 2), 7, {t, u})) == std::vector<bool>{true, false, false, false});
  CHECK(values_of<bool>(run1(op_node("Or", 2), 7, {t, u})) == std::vector<bool>{true, true, true, false});
  CHECK(values_of<bool>(run1(op_node("Xor", 2), 7, {t, u})) == std::vector<bool>{false, true, true, false});
  CHECK(values_of<bool>(run1(op_node("Not", 1), 1, {t})) == std::vector<bool>{false, false, true, true});

  const Tensor x = Tensor::from_vector<uint8_t>({3}, {16, 4, 1});
  const Tensor s = Tensor::from_vector<uint8_t>({3}, {1, 2, 8});
  CHECK(values_of<uint8_t>(run1(op_node("BitShift", 2, {string_attr("direction", "LEFT")}), 11, {x, s})) ==
        std::vector<uint8_t>{32, 16, 0});
  CHECK(values_of<uint8_t>(run1(op_node("BitShift", 2, {string_attr("direction", "RIGHT")}), 11, {x, s})) ==
        std::vector<uint8_t>{8, 1, 0});
  CHECK(run_status(op_node("BitShift", 2), 11, {x, s}).code() == StatusCode::kInvalidInput);

  const Tensor cond = Tensor::from_vector<bool>({2, 1}, {true, false});
  const Tensor w =
      run1(op_node("Where", 3), 16,
           {cond, Tensor::from_vector<int64_t>({2}, {1, 2}), Tensor::from_vector<int64_t>({2, 2}, {10, 20, 30, 40})});
  CHECK(w.shape() == Shape{2, 2});
  CHECK(values_of<int64_t>(w) == std::vector<int64_t>{1, 2, 30, 40});
}

TEST_CASE("unary math: signs, rounding half to even, NaN and Inf tests") {
  CHECK(values_of<int8_t>(run1(op_node("Abs", 1), 13, {Tensor::from_vector<int8_t>({3}, {-3, 4, -128})})) ==
        std::vector<int8_t>{3, 4, -128});
  check_values(run1(op_node("Neg", 1), 13, {Tensor::from_vector<float>({2}, {1.5f, -2})}), {-1.5, 2});
  check_values(run1(op_node("Sign", 1), 13, {Tensor::from_vector<float>({4}, {-2, 0, 3, NAN})}), {-1, 0, 1, NAN});
  check_values(run1(op_node("Round", 1), 11, {Tensor::from_vector<float>({5}, {0.5f, 1.5f, 2.5f, -0.5f, -1.7f})}),
               {0, 2, 2, 0, -2});
  check_values(run1(op_node("Floor", 1), 13, {Tensor::from_vector<float>({2}, {-1.5f, 1.5f})}), {-2, 1});
  check_values(run1(op_node("Ceil", 1), 13, {Tensor::from_vector<float>({2}, {-1.5f, 1.5f})}), {-1, 2});
  check_values(run1(op_node("Sqrt", 1), 13, {Tensor::from_vector<double>({2}, {4, 2})}), {2, std::sqrt(2.0)});
  check_values(run1(op_node("Reciprocal", 1), 13, {Tensor::from_vector<float>({2}, {4, -0.5f})}), {0.25, -2});
  check_values(run1(op_node("Exp", 1), 13, {Tensor::from_vector<float>({2}, {0, 1})}), {1, 2.718281828459045});
  check_values(run1(op_node("Log", 1), 13, {Tensor::from_vector<float>({2}, {1, 0})}), {0, -INFINITY});
  check_values(run1(op_node("Erf", 1), 13, {Tensor::from_vector<float>({3}, {0, 1, -1})}),
               {0, 0.8427007929497149, -0.8427007929497149});
  check_values(run1(op_node("Cos", 1), 7, {Tensor::from_vector<float>({1}, {0})}), {1});

  const Tensor x = Tensor::from_vector<float>({4}, {INFINITY, -INFINITY, NAN, 1});
  CHECK(values_of<bool>(run1(op_node("IsNaN", 1), 13, {x})) == std::vector<bool>{false, false, true, false});
  CHECK(values_of<bool>(run1(op_node("IsInf", 1), 10, {x})) == std::vector<bool>{true, true, false, false});
  CHECK(values_of<bool>(run1(op_node("IsInf", 1, {int_attr("detect_negative", 0)}), 10, {x})) ==
        std::vector<bool>{true, false, false, false});
}

TEST_CASE("Cast saturates float to int, maps NaN to 0, and converts bool, f16 and strings") {
  const Tensor f = Tensor::from_vector<float>({5}, {1.7f, -1.7f, 3e9f, -3e9f, NAN});
  CHECK(values_of<int32_t>(run1(op_node("Cast", 1, {int_attr("to", 6)}), 13, {f})) ==
        std::vector<int32_t>{1, -1, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(), 0});
  CHECK(values_of<bool>(run1(op_node("Cast", 1, {int_attr("to", 9)}), 13,
                             {Tensor::from_vector<int64_t>({3}, {0, 2, -1})})) == std::vector<bool>{false, true, true});
  CHECK(values_of<int8_t>(run1(op_node("Cast", 1, {int_attr("to", 3)}), 13,
                               {Tensor::from_vector<int32_t>({2}, {300, -1})})) == std::vector<int8_t>{44, -1});

  const Tensor half =
      run1(op_node("Cast", 1, {int_attr("to", 10)}), 13, {Tensor::from_vector<float>({3}, {1, 0.1f, 65504})});
  CHECK(half.dtype() == DType::kF16);
  CHECK(half.data<uint16_t>()[0] == 0x3C00);
  const Tensor back = run1(op_node("Cast", 1, {int_attr("to", 11)}), 13, {half});
  CHECK(back.dtype() == DType::kF64);
  check_values(back, {1, 0.0999755859375, 65504});
  const Tensor bf = run1(op_node("Cast", 1, {int_attr("to", 16)}), 13, {Tensor::from_vector<float>({1}, {1.5f})});
  CHECK(bf.data<uint16_t>()[0] == 0x3FC0);

  const Tensor text =
      run1(op_node("Cast", 1, {int_attr("to", 8)}), 13, {Tensor::from_vector<float>({3}, {0.5f, 1, 0.1f})});
  CHECK(text.string_values() == std::vector<std::string>{"0.5", "1.0", "0.1"});
  const Tensor parsed =
      run1(op_node("Cast", 1, {int_attr("to", 1)}), 13, {Tensor::strings({3}, {"0.25", "-INF", "7"})});
  check_values(parsed, {0.25, -INFINITY, 7});
  CHECK(run_status(op_node("Cast", 1, {int_attr("to", 1)}), 13, {Tensor::strings({1}, {"abc"})}).code() ==
        StatusCode::kInvalidInput);

  const Tensor like =
      run1(op_node("CastLike", 2), 15, {Tensor::from_vector<int32_t>({2}, {1, 2}), Tensor::scalar<double>(0)});
  CHECK(like.dtype() == DType::kF64);
  check_values(like, {1, 2});
}

TEST_CASE("f16 inputs compute in f32 and round back") {
  Tensor a = Tensor::zeros(DType::kF16, {2});
  a.mutable_data<uint16_t>()[0] = float_to_half(1.5f);
  a.mutable_data<uint16_t>()[1] = float_to_half(-2.0f);
  const Tensor y = run1(op_node("Mul", 2), 14, {a, a});
  CHECK(y.dtype() == DType::kF16);
  check_values(y, {2.25, 4});
  const Tensor lt = run1(op_node("Less", 2), 13, {a, a});
  CHECK(lt.dtype() == DType::kBool);
}

TEST_CASE("opset 6 binary ops broadcast only with broadcast=1, aligned at axis") {
  const Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Tensor::from_vector<float>({2}, {10, 20});
  const Tensor y = run1(op_node("Add", 2, {int_attr("broadcast", 1), int_attr("axis", 0)}), 6, {a, b});
  check_values(y, {11, 12, 13, 24, 25, 26});
  CHECK(run_status(op_node("Add", 2), 6, {a, b}).code() == StatusCode::kInvalidInput);
}

TEST_CASE("elementwise errors name the node and say what is wrong") {
  const Status shapes =
      run_status(op_node("Add", 2), 14, {Tensor::zeros(DType::kF32, {2, 3}), Tensor::zeros(DType::kF32, {4})});
  CHECK(shapes.code() == StatusCode::kInvalidInput);
  CHECK(shapes.message().find("n_Add") != std::string::npos);
  CHECK(shapes.message().find("[2, 3]") != std::string::npos);
  const Status types =
      run_status(op_node("Sub", 2), 14, {Tensor::zeros(DType::kF32, {2}), Tensor::zeros(DType::kI32, {2})});
  CHECK(types.code() == StatusCode::kInvalidInput);
  const Status unsupported = run_status(op_node("Sqrt", 1), 13, {Tensor::zeros(DType::kI32, {2})});
  CHECK(unsupported.code() == StatusCode::kUnsupported);
  CHECK(run_status(op_node("Where", 3), 16,
                   {Tensor::zeros(DType::kF32, {1}), Tensor::zeros(DType::kF32, {1}), Tensor::zeros(DType::kF32, {1})})
            .code() == StatusCode::kInvalidInput);
  CHECK(run_status(op_node("Add", 1), 14, {Tensor::zeros(DType::kF32, {1})}).code() == StatusCode::kInvalidInput);
}
