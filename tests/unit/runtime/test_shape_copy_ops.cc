// Transpose, Pad and Slice: fast paths checked against a naive reference at odd sizes, the
// opset forms (attributes vs inputs), and element types of every storage size.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "runtime/parallel.h"
#include "tests/unit/runtime/shape_test_util.h"

using namespace ember;
using namespace shape_test;

namespace {

// out[i] = in[sum(index_d(i) * strides[perm[d]])], written the slow, obvious way.
std::vector<float> naive_transpose(const Tensor& in, const std::vector<int64_t>& perm) {
  const Shape& s = in.shape();
  Shape out_shape;
  for (int64_t p : perm) out_shape.push_back(s[size_t(p)]);
  std::vector<int64_t> strides(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) strides[d - 1] = strides[d] * s[d];
  std::vector<float> out(size_t(in.numel()));
  std::vector<int64_t> index(s.size(), 0);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t offset = 0;
    for (size_t d = 0; d < perm.size(); ++d) offset += index[d] * strides[size_t(perm[d])];
    out[i] = in.data<float>()[offset];
    for (size_t d = perm.size(); d-- > 0;) {
      if (++index[d] < out_shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

void check_transpose(const Shape& shape, const std::vector<int64_t>& perm) {
  CAPTURE(shape_to_string(shape));
  CAPTURE(shape_to_string(perm));
  const Tensor x = iota_f32(shape);
  auto r = run(node("Transpose", 1, 1, {ints_attr("perm", perm)}), 13, {x});
  REQUIRE(r.ok());
  CHECK(values<float>((*r)[0]) == naive_transpose(x, perm));
}

}  // namespace

TEST_CASE("copy ops: Transpose fast paths match the naive permutation at odd sizes") {
  runtime::set_num_threads(2);
  check_transpose({3, 37, 41}, {0, 2, 1});          // batched last-two swap (tiled)
  check_transpose({129, 17}, {1, 0});               // plain 2-D swap
  check_transpose({2, 31, 3, 17}, {0, 2, 1, 3});    // attention: innermost axis stays
  check_transpose({2, 3, 4, 5}, {3, 1, 0, 2});      // general
  check_transpose({5, 1, 7}, {1, 0, 2});            // only a size-1 axis moves
  check_transpose({1, 64, 1, 40}, {2, 0, 3, 1});    // tiled after dropping size-1 axes
  check_transpose({0, 3}, {1, 0});
  check_transpose({4, 300, 200}, {0, 2, 1});        // big enough to split across threads
  check_transpose({2, 128, 4, 64}, {0, 2, 1, 3});
  const Tensor x = iota_f32({2, 3});
  auto reversed = run(node("Transpose", 1, 1), 13, {x});  // no perm: reverse the axes
  CHECK(values<float>((*reversed)[0]) == std::vector<float>{0, 3, 1, 4, 2, 5});
  auto view = run(node("Transpose", 1, 1, {ints_attr("perm", {1, 0, 2})}), 13, {iota_f32({5, 1, 7})});
  CHECK((*view)[0].shape() == Shape{1, 5, 7});
  auto bad = run(node("Transpose", 1, 1, {ints_attr("perm", {0, 0})}), 13, {x});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("n_Transpose") != std::string::npos);
}

TEST_CASE("copy ops: Transpose moves strings, f16 and packed int4 elements") {
  const Tensor s = Tensor::strings({2, 2}, {"a", "b", "c", "d"});
  auto rs = run(node("Transpose", 1, 1), 13, {s});
  REQUIRE(rs.ok());
  CHECK((*rs)[0].string_values() == std::vector<std::string>{"a", "c", "b", "d"});

  Tensor h = Tensor::zeros(DType::kF16, {2, 3});
  for (int i = 0; i < 6; ++i) h.mutable_data<uint16_t>()[i] = float_to_half(float(i));
  auto rh = run(node("Transpose", 1, 1), 13, {h});
  REQUIRE(rh.ok());
  CHECK((*rh)[0].dtype() == DType::kF16);
  CHECK(*(*rh)[0].to_floats() == std::vector<float>{0, 3, 1, 4, 2, 5});

  Tensor q = Tensor::zeros(DType::kI4, {2, 3});  // elements 1 -2 3 / -4 5 -6
  const int8_t v[6] = {1, -2, 3, -4, 5, -6};
  for (int i = 0; i < 6; ++i) q.mutable_data<uint8_t>()[i / 2] |= uint8_t((v[i] & 0xf) << (4 * (i % 2)));
  auto rq = run(node("Transpose", 1, 1), 13, {q});
  REQUIRE(rq.ok());
  CHECK((*rq)[0].dtype() == DType::kI4);
  CHECK(*(*rq)[0].to_floats() == std::vector<float>{1, -4, -2, 5, 3, -6});
}

TEST_CASE("copy ops: Pad modes, attribute form (opset 2) and input form with axes (opset 18)") {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto constant = run(node("Pad", 1, 1, {ints_attr("pads", {0, 1, 1, 0}), float_attr("value", 9)}), 2, {x});
  REQUIRE(constant.ok());
  CHECK((*constant)[0].shape() == Shape{3, 4});
  CHECK(values<float>((*constant)[0]) == std::vector<float>{9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9});
  auto zero = run(node("Pad", 2, 1), 11, {x, i64s({1, 0, 0, 0})});
  CHECK(values<float>((*zero)[0]) == std::vector<float>{0, 0, 0, 1, 2, 3, 4, 5, 6});
  auto reflect = run(node("Pad", 2, 1, {string_attr("mode", "reflect")}), 13, {x, i64s({0, 2, 0, 2})});
  CHECK(values<float>((*reflect)[0]) == std::vector<float>{3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4});
  auto edge = run(node("Pad", 2, 1, {string_attr("mode", "edge")}), 13, {x, i64s({1, 1, 0, 0})});
  CHECK(values<float>((*edge)[0]) == std::vector<float>{1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6});
  auto wrap = run(node("Pad", 2, 1, {string_attr("mode", "wrap")}), 19, {x, i64s({0, 1, 0, 1})});
  CHECK(values<float>((*wrap)[0]) == std::vector<float>{3, 1, 2, 3, 1, 6, 4, 5, 6, 4});
  // Input form: a constant_value input, and pads for the listed axes only.
  auto axes = run(node("Pad", 4, 1), 18, {x, i64s({1, 0}), Tensor::scalar(-1.0f), i64s({-1})});
  REQUIRE(axes.ok());
  CHECK(values<float>((*axes)[0]) == std::vector<float>{-1, 1, 2, 3, -1, 4, 5, 6});
  auto crop = run(node("Pad", 2, 1), 11, {x, i64s({0, -1, 0, 1})});  // negative pads crop
  CHECK(values<float>((*crop)[0]) == std::vector<float>{2, 3, 0, 5, 6, 0});
  auto ints = run(node("Pad", 3, 1), 11, {Tensor::from_vector<int32_t>({2}, {7, 8}), i64s({1, 1}), Tensor::scalar<int32_t>(-5)});
  CHECK(values<int32_t>((*ints)[0]) == std::vector<int32_t>{-5, 7, 8, -5});
  auto bad = run(node("Pad", 2, 1), 11, {x, i64s({1, 1})});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("n_Pad") != std::string::npos);
}

TEST_CASE("copy ops: Slice clamps, steps backwards, and reads attributes before opset 10") {
  const Tensor x = iota_f32({3, 4});
  auto attrs = run(node("Slice", 1, 1, {ints_attr("starts", {1, 0}), ints_attr("ends", {2, 3}), ints_attr("axes", {0, 1})}), 9, {x});
  REQUIRE(attrs.ok());
  CHECK(values<float>((*attrs)[0]) == std::vector<float>{4, 5, 6});
  auto defaults = run(node("Slice", 3, 1), 13, {x, i64s({1}), i64s({1000})});  // axes default 0.., end clamps
  CHECK(values<float>((*defaults)[0]) == std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11});
  auto backwards = run(node("Slice", 5, 1), 13, {x, i64s({-1, 20}), i64s({0, -1000}), i64s({-1, 0}), i64s({-2, -2})});
  REQUIRE(backwards.ok());
  CHECK((*backwards)[0].shape() == Shape{2, 2});  // rows 2, 0 and columns 3, 1
  CHECK(values<float>((*backwards)[0]) == std::vector<float>{11, 9, 3, 1});
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  auto reverse = run(node("Slice", 5, 1), 13, {x, i64s({max}), i64s({min}), i64s({1}), i64s({-1})});
  CHECK(values<float>((*reverse)[0]) == std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8});
  auto empty = run(node("Slice", 3, 1), 13, {x, i64s({3}), i64s({1})});
  CHECK((*empty)[0].shape() == Shape{0, 4});
  auto strings = run(node("Slice", 4, 1), 13, {Tensor::strings({3}, {"a", "b", "c"}), i64s({0}), i64s({3}), i64s({0}),
                                               i64s({2})});
  REQUIRE(strings.ok());
  CHECK((*strings)[0].string_values() == std::vector<std::string>{"a", "c"});
  auto bad = run(node("Slice", 5, 1), 13, {x, i64s({0}), i64s({1}), i64s({0}), i64s({0})});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("n_Slice") != std::string::npos);
  CHECK_FALSE(run(node("Slice", 4, 1), 13, {x, i64s({0}), i64s({1}), i64s({2})}).ok());
}
