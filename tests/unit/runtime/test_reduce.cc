#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "tests/unit/runtime/numeric_op_test_util.h"

using namespace ember;
using namespace ember::test;

namespace {
const Tensor kMatrix = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
Tensor axes(std::vector<int64_t> a) { return i64s(std::move(a)); }
}  // namespace

TEST_CASE("ReduceSum takes axes as an attribute before opset 13 and as an input from 13") {
  const Tensor a = run1(op_node("ReduceSum", 1, {ints_attr("axes", {1}), int_attr("keepdims", 0)}), 11, {kMatrix});
  CHECK(a.shape() == Shape{2});
  check_values(a, {6, 15});
  const Tensor b = run1(op_node("ReduceSum", 2, {int_attr("keepdims", 0)}), 13, {kMatrix, axes({1})});
  CHECK(b.shape() == Shape{2});
  check_values(b, {6, 15});
  const Tensor all = run1(op_node("ReduceSum", 1), 13, {kMatrix});
  CHECK(all.shape() == Shape{1, 1});
  check_values(all, {21});
  const Tensor noop = run1(op_node("ReduceSum", 2, {int_attr("noop_with_empty_axes", 1)}), 13, {kMatrix, axes({})});
  CHECK(noop.shape() == Shape{2, 3});
  check_values(noop, {1, 2, 3, 4, 5, 6});
}

TEST_CASE("the other reductions move axes to an input at opset 18") {
  const Tensor a = run1(op_node("ReduceMean", 1, {ints_attr("axes", {0})}), 13, {kMatrix});
  CHECK(a.shape() == Shape{1, 3});
  check_values(a, {2.5, 3.5, 4.5});
  const Tensor b = run1(op_node("ReduceMean", 2), 18, {kMatrix, axes({0})});
  CHECK(b.shape() == Shape{1, 3});
  check_values(b, {2.5, 3.5, 4.5});
  check_values(run1(op_node("ReduceMax", 2, {int_attr("keepdims", 0)}), 18, {kMatrix, axes({-1})}), {3, 6});
  check_values(run1(op_node("ReduceMin", 1, {ints_attr("axes", {-1}), int_attr("keepdims", 0)}), 13, {kMatrix}),
               {1, 4});
}

TEST_CASE("every reduction kind over rows") {
  const Tensor x = Tensor::from_vector<float>({2, 2}, {-1, 2, 3, -4});
  auto reduce = [&](const char* op) {
    return run1(op_node(op, 1, {ints_attr("axes", {1}), int_attr("keepdims", 0)}), 13, {x});
  };
  check_values(reduce("ReduceProd"), {-2, -12});
  check_values(reduce("ReduceL1"), {3, 7});
  check_values(reduce("ReduceL2"), {std::sqrt(5.0), 5});
  check_values(reduce("ReduceSumSquare"), {5, 25});
  check_values(reduce("ReduceLogSum"), {0, NAN});  // log(3 - 4)
  check_values(
      run1(op_node("ReduceLogSum", 1, {int_attr("keepdims", 0)}), 13, {Tensor::from_vector<float>({2}, {0, 0})}),
      {-INFINITY});
  check_values(reduce("ReduceLogSumExp"),
               {std::log(std::exp(-1.0) + std::exp(2.0)), std::log(std::exp(3.0) + std::exp(-4.0))});
  const Tensor big = Tensor::from_vector<float>({2}, {1000, 1000});
  check_values(run1(op_node("ReduceLogSumExp", 1, {int_attr("keepdims", 0)}), 13, {big}), {1000 + std::log(2.0)});
}

TEST_CASE("reductions over non-adjacent axes, integers and empty extents") {
  std::vector<float> values(12);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i);
  const Tensor x = Tensor::from_vector<float>({2, 3, 2}, values);
  const Tensor y = run1(op_node("ReduceSum", 1, {ints_attr("axes", {0, 2}), int_attr("keepdims", 0)}), 11, {x});
  CHECK(y.shape() == Shape{3});
  check_values(y, {0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11});

  const Tensor ints = Tensor::from_vector<int32_t>({2, 2}, {7, -3, 5, 2});
  CHECK(values_of<int32_t>(run1(op_node("ReduceMean", 1, {ints_attr("axes", {1})}), 13, {ints})) ==
        std::vector<int32_t>{2, 3});
  CHECK(values_of<int32_t>(run1(op_node("ReduceMax", 1, {ints_attr("axes", {0})}), 13, {ints})) ==
        std::vector<int32_t>{7, 2});

  const Tensor empty = Tensor::zeros(DType::kF32, {2, 0});
  const Tensor s = run1(op_node("ReduceSum", 2, {int_attr("keepdims", 0)}), 13, {empty, axes({1})});
  CHECK(s.shape() == Shape{2});
  check_values(s, {0, 0});
  check_values(run1(op_node("ReduceMax", 2, {int_attr("keepdims", 0)}), 18, {empty, axes({1})}),
               {-INFINITY, -INFINITY});
  check_values(run1(op_node("ReduceProd", 2, {int_attr("keepdims", 0)}), 18, {empty, axes({1})}), {1, 1});
}

TEST_CASE("a large row reduction split across threads stays accurate") {
  const int64_t rows = 64, cols = 1000;
  std::vector<float> v(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[size_t(r * cols + c)] = float(r) + float(c) / 1000;
  const Tensor m = run1(op_node("ReduceMean", 1, {ints_attr("axes", {1}), int_attr("keepdims", 0)}), 13,
                        {Tensor::from_vector<float>({rows, cols}, v)});
  std::vector<double> expected;
  for (int64_t r = 0; r < rows; ++r) expected.push_back(double(r) + 0.4995);
  check_values(m, expected, 1e-6);
}

TEST_CASE("ArgMax and ArgMin pick the first extreme unless select_last_index") {
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 5, 5, 2, 0, 0});
  const Tensor a = run1(op_node("ArgMax", 1, {int_attr("axis", 1)}), 13, {x});
  CHECK(a.dtype() == DType::kI64);
  CHECK(a.shape() == Shape{2, 1});
  CHECK(values_of<int64_t>(a) == std::vector<int64_t>{1, 0});
  CHECK(values_of<int64_t>(run1(op_node("ArgMax", 1, {int_attr("axis", 1), int_attr("select_last_index", 1)}), 13,
                                {x})) == std::vector<int64_t>{2, 0});
  const Tensor b = run1(
      op_node("ArgMin", 1, {int_attr("axis", -1), int_attr("keepdims", 0), int_attr("select_last_index", 1)}), 13, {x});
  CHECK(b.shape() == Shape{2});
  CHECK(values_of<int64_t>(b) == std::vector<int64_t>{0, 2});
  CHECK(values_of<int64_t>(run1(op_node("ArgMin", 1, {int_attr("keepdims", 0)}), 13, {x})) ==
        std::vector<int64_t>{0, 1, 1});
}

TEST_CASE("CumSum with exclusive and reverse") {
  const Tensor x = Tensor::from_vector<float>({4}, {1, 2, 3, 4});
  const Tensor axis = Tensor::scalar<int64_t>(0);
  check_values(run1(op_node("CumSum", 2), 14, {x, axis}), {1, 3, 6, 10});
  check_values(run1(op_node("CumSum", 2, {int_attr("exclusive", 1)}), 14, {x, axis}), {0, 1, 3, 6});
  check_values(run1(op_node("CumSum", 2, {int_attr("reverse", 1)}), 14, {x, axis}), {10, 9, 7, 4});
  check_values(run1(op_node("CumSum", 2, {int_attr("reverse", 1), int_attr("exclusive", 1)}), 14, {x, axis}),
               {9, 7, 4, 0});
  const Tensor m = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(values_of<int32_t>(run1(op_node("CumSum", 2), 14, {m, Tensor::scalar<int32_t>(0)})) ==
        std::vector<int32_t>{1, 2, 3, 5, 7, 9});
  CHECK(values_of<int32_t>(run1(op_node("CumSum", 2), 14, {m, Tensor::scalar<int32_t>(-1)})) ==
        std::vector<int32_t>{1, 3, 6, 4, 9, 15});
}

TEST_CASE("reduce errors name the node") {
  const Status repeated = run_status(op_node("ReduceSum", 2), 13, {kMatrix, axes({1, -1})});
  CHECK(repeated.code() == StatusCode::kInvalidInput);
  CHECK(repeated.message().find("n_ReduceSum") != std::string::npos);
  CHECK(run_status(op_node("ReduceMean", 1, {ints_attr("axes", {2})}), 13, {kMatrix}).code() ==
        StatusCode::kInvalidInput);
  CHECK(run_status(op_node("ArgMax", 1, {int_attr("axis", 5)}), 13, {kMatrix}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(op_node("CumSum", 2), 14, {kMatrix, axes({0, 1})}).code() == StatusCode::kInvalidInput);
}
