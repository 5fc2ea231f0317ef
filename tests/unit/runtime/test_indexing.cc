// Indexing kernels: Gather (embedding rows and inner axes), GatherElements, GatherND,
// ScatterND/ScatterElements with reductions, OneHot, Trilu and NonZero.
#include <doctest/doctest.h>

#include <cstdint>

#include "tests/unit/runtime/shape_test_util.h"

using namespace ember;
using namespace shape_test;

namespace {

void check_error_names_node(const Result<std::vector<Tensor>>& r, const std::string& op) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(r.status().message().find("n_" + op) != std::string::npos);
}

Tensor index_tensor(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(shape), v); }

}  // namespace

TEST_CASE("indexing: Gather rows (axis 0) and inner axes, with negative indices") {
  const Tensor table = iota_f32({4, 3});
  auto rows = run(node("Gather", 2, 1), 13, {table, index_tensor({2, 2}, {3, 0, -1, 1})});
  REQUIRE(rows.ok());
  CHECK((*rows)[0].shape() == Shape{2, 2, 3});
  CHECK(values<float>((*rows)[0]) == std::vector<float>{9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5});
  auto cols = run(node("Gather", 2, 1, {int_attr("axis", 1)}), 13,
                  {table, Tensor::from_vector<int32_t>({2}, {2, -3})});
  REQUIRE(cols.ok());
  CHECK((*cols)[0].shape() == Shape{4, 2});
  CHECK(values<float>((*cols)[0]) == std::vector<float>{2, 0, 5, 3, 8, 6, 11, 9});
  auto scalar = run(node("Gather", 2, 1), 13, {table, Tensor::scalar<int64_t>(2)});
  CHECK((*scalar)[0].shape() == Shape{3});
  auto strings = run(node("Gather", 2, 1), 13, {Tensor::strings({3}, {"x", "y", "z"}), i64s({2, 2})});
  CHECK((*strings)[0].string_values() == std::vector<std::string>{"z", "z"});
  check_error_names_node(run(node("Gather", 2, 1), 13, {table, i64s({4})}), "Gather");
  check_error_names_node(run(node("Gather", 2, 1), 13, {table, i64s({-5})}), "Gather");
  check_error_names_node(run(node("Gather", 2, 1, {int_attr("axis", 2)}), 13, {table, i64s({0})}), "Gather");
}

TEST_CASE("indexing: GatherElements and GatherND with batch_dims") {
  const Tensor data = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto along0 = run(node("GatherElements", 2, 1), 13, {data, index_tensor({2, 3}, {1, 2, 0, 2, 0, -3})});
  REQUIRE(along0.ok());
  CHECK(values<float>((*along0)[0]) == std::vector<float>{4, 8, 3, 7, 2, 3});
  auto along1 = run(node("GatherElements", 2, 1, {int_attr("axis", 1)}), 13, {data, index_tensor({3, 1}, {2, 0, 1})});
  CHECK(values<float>((*along1)[0]) == std::vector<float>{3, 4, 8});
  check_error_names_node(run(node("GatherElements", 2, 1), 13, {data, index_tensor({1, 1}, {3})}), "GatherElements");

  const Tensor cube = iota_f32({2, 2, 2});
  auto points = run(node("GatherND", 2, 1), 13, {cube, index_tensor({2, 3}, {0, 1, 1, 1, 0, -2})});
  REQUIRE(points.ok());
  CHECK(values<float>((*points)[0]) == std::vector<float>{3, 4});
  auto rows = run(node("GatherND", 2, 1), 13, {cube, index_tensor({1, 2}, {1, 1})});
  CHECK((*rows)[0].shape() == Shape{1, 2});
  CHECK(values<float>((*rows)[0]) == std::vector<float>{6, 7});
  // batch_dims 1: each batch picks from its own [2, 2] block.
  auto batched = run(node("GatherND", 2, 1, {int_attr("batch_dims", 1)}), 13, {cube, index_tensor({2, 1}, {1, 0})});
  REQUIRE(batched.ok());
  CHECK((*batched)[0].shape() == Shape{2, 2});
  CHECK(values<float>((*batched)[0]) == std::vector<float>{2, 3, 4, 5});
  check_error_names_node(run(node("GatherND", 2, 1), 13, {cube, index_tensor({1, 4}, {0, 0, 0, 0})}), "GatherND");
}

TEST_CASE("indexing: ScatterND and ScatterElements, plain and reduced") {
  const Tensor data = iota_f32({4});
  auto nd = run(node("ScatterND", 3, 1), 13, {data, index_tensor({2, 1}, {3, 1}), f32({2}, {10, 20})});
  REQUIRE(nd.ok());
  CHECK(values<float>((*nd)[0]) == std::vector<float>{0, 20, 2, 10});
  auto added = run(node("ScatterND", 3, 1, {string_attr("reduction", "add")}), 16,
                   {data, index_tensor({2, 1}, {1, 1}), f32({2}, {10, 20})});
  CHECK(values<float>((*added)[0]) == std::vector<float>{0, 31, 2, 3});
  auto rows = run(node("ScatterND", 3, 1, {string_attr("reduction", "mul")}), 16,
                  {iota_f32({2, 2}), index_tensor({1, 1}, {1}), f32({1, 2}, {-1, 2})});
  CHECK(values<float>((*rows)[0]) == std::vector<float>{0, 1, -2, 6});
  check_error_names_node(run(node("ScatterND", 3, 1), 13, {data, index_tensor({1, 1}, {4}), f32({1}, {1})}), "ScatterND");

  const Tensor grid = Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4});
  auto elements = run(node("ScatterElements", 3, 1, {int_attr("axis", 1)}), 13,
                      {grid, index_tensor({2, 1}, {-1, 0}), Tensor::from_vector<int32_t>({2, 1}, {9, 8})});
  REQUIRE(elements.ok());
  CHECK(values<int32_t>((*elements)[0]) == std::vector<int32_t>{1, 9, 8, 4});
  auto maxed = run(node("ScatterElements", 3, 1, {string_attr("reduction", "max")}), 18,
                   {grid, index_tensor({1, 2}, {1, 1}), Tensor::from_vector<int32_t>({1, 2}, {0, 7})});
  CHECK(values<int32_t>((*maxed)[0]) == std::vector<int32_t>{1, 2, 3, 7});
  auto legacy = run(node("Scatter", 3, 1), 10, {grid, index_tensor({1, 2}, {1, 0}), Tensor::from_vector<int32_t>({1, 2}, {5, 6})});
  CHECK(values<int32_t>((*legacy)[0]) == std::vector<int32_t>{1, 6, 5, 4});
  check_error_names_node(run(node("ScatterElements", 3, 1, {string_attr("reduction", "avg")}), 18,
                             {grid, index_tensor({1, 1}, {0}), Tensor::from_vector<int32_t>({1, 1}, {0})}),
                         "ScatterElements");
}

TEST_CASE("indexing: OneHot, Trilu and NonZero") {
  const Tensor values_off_on = f32({2}, {0, 5});
  auto hot = run(node("OneHot", 3, 1), 11, {i64s({1, -1, 7}), Tensor::scalar<int64_t>(3), values_off_on});
  REQUIRE(hot.ok());
  CHECK((*hot)[0].shape() == Shape{3, 3});
  CHECK(values<float>((*hot)[0]) == std::vector<float>{0, 5, 0, 0, 0, 5, 0, 0, 0});  // 7 is out of range: all off
  auto axis0 = run(node("OneHot", 3, 1, {int_attr("axis", 0)}), 11, {f32({2}, {0.0f, 2.7f}), f32({1}, {3}), values_off_on});
  REQUIRE(axis0.ok());
  CHECK((*axis0)[0].shape() == Shape{3, 2});
  CHECK(values<float>((*axis0)[0]) == std::vector<float>{5, 0, 0, 0, 0, 5});

  const Tensor m = iota_f32({3, 4});
  auto upper = run(node("Trilu", 1, 1), 14, {m});
  CHECK(values<float>((*upper)[0]) == std::vector<float>{0, 1, 2, 3, 0, 5, 6, 7, 0, 0, 10, 11});
  auto lower = run(node("Trilu", 2, 1, {int_attr("upper", 0)}), 14, {m, Tensor::scalar<int64_t>(-1)});
  CHECK(values<float>((*lower)[0]) == std::vector<float>{0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0});
  check_error_names_node(run(node("Trilu", 1, 1), 14, {f32({2}, {1, 2})}), "Trilu");

  auto nz = run(node("NonZero", 1, 1), 13, {f32({2, 2}, {1, 0, -0.0f, 3})});
  REQUIRE(nz.ok());
  CHECK((*nz)[0].shape() == Shape{2, 2});
  CHECK(values<int64_t>((*nz)[0]) == std::vector<int64_t>{0, 1, 0, 1});
  auto none = run(node("NonZero", 1, 1), 13, {Tensor::from_vector<int32_t>({3}, {0, 0, 0})});
  CHECK((*none)[0].shape() == Shape{1, 0});
}
