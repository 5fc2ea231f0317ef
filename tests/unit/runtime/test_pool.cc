// Pooling kernels against direct loops (1-D, 2-D, 3-D; pads, strides, dilations, ceil_mode,
// count_include_pad, auto_pad), the ONNX documentation examples, Indices and the Global ops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/unit/runtime/conv_test_util.h"

using namespace ember;
using namespace ember::conv_test;

namespace {

enum class Kind { kMax, kAverage, kLp };

struct PoolSpec {
  Shape x;
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;
  bool ceil_mode = false;
  bool count_include_pad = false;
};

std::vector<int64_t> fill_default(const std::vector<int64_t>& v, size_t n, int64_t fill) {
  return v.empty() ? std::vector<int64_t>(n, fill) : v;
}

// Direct pooling. indices (row-major, including the plane offset) only for kMax.
std::vector<double> naive_pool(const PoolSpec& s, Kind kind, const Tensor& x, Shape* y_shape,
                               std::vector<int64_t>* indices = nullptr, int p = 2) {
  const size_t r = s.x.size() - 2;
  const std::vector<int64_t> in(s.x.begin() + 2, s.x.end());
  const auto st = fill_default(s.strides, r, 1), dl = fill_default(s.dilations, r, 1);
  const auto pb = fill_default(s.pad_begin, r, 0), pe = fill_default(s.pad_end, r, 0);
  std::vector<int64_t> out(r);
  for (size_t a = 0; a < r; ++a) {
    const int64_t span = in[a] + pb[a] + pe[a] - ((s.kernel[a] - 1) * dl[a] + 1);
    out[a] = (s.ceil_mode ? (span + st[a] - 1) / st[a] : span / st[a]) + 1;
    if (s.ceil_mode && (out[a] - 1) * st[a] >= in[a] + pb[a]) --out[a];
  }
  *y_shape = {s.x[0], s.x[1]};
  y_shape->insert(y_shape->end(), out.begin(), out.end());
  const auto xv = x.to_floats().value();
  const int64_t in_plane = shape_numel(in), out_plane = shape_numel(out), k_plane = shape_numel(s.kernel);
  std::vector<double> y;
  for (int64_t plane = 0; plane < s.x[0] * s.x[1]; ++plane)
    for (int64_t q = 0; q < out_plane; ++q) {
      std::vector<int64_t> o(r), k(r);
      for (int64_t rest = q, a = static_cast<int64_t>(r) - 1; a >= 0; --a) {
        o[static_cast<size_t>(a)] = rest % out[static_cast<size_t>(a)];
        rest /= out[static_cast<size_t>(a)];
      }
      double best = -INFINITY, sum = 0;
      int64_t best_index = -1, valid = 0, padded = 0;
      for (int64_t t = 0; t < k_plane; ++t) {
        for (int64_t rest = t, a = static_cast<int64_t>(r) - 1; a >= 0; --a) {
          k[static_cast<size_t>(a)] = rest % s.kernel[static_cast<size_t>(a)];
          rest /= s.kernel[static_cast<size_t>(a)];
        }
        bool inside = true, in_padded = true;
        int64_t flat = 0;
        for (size_t a = 0; a < r; ++a) {
          const int64_t i = o[a] * st[a] - pb[a] + k[a] * dl[a];
          inside = inside && i >= 0 && i < in[a];
          in_padded = in_padded && i >= -pb[a] && i < in[a] + pe[a];
          flat = flat * in[a] + i;
        }
        padded += in_padded;
        if (!inside) continue;
        ++valid;
        const double v = xv[static_cast<size_t>(plane * in_plane + flat)];
        if (v > best) {
          best = v;
          best_index = plane * in_plane + flat;
        }
        sum += kind == Kind::kLp ? std::pow(std::fabs(v), p) : v;
      }
      if (kind == Kind::kMax) {
        y.push_back(best);
        if (indices) indices->push_back(best_index);
      } else if (kind == Kind::kAverage) {
        y.push_back(sum / static_cast<double>(s.count_include_pad ? padded : valid));
      } else {
        y.push_back(std::pow(sum, 1.0 / p));
      }
    }
  return y;
}

std::vector<ir::Attribute> pool_attrs(const PoolSpec& s) {
  std::vector<ir::Attribute> attrs{ints_attr("kernel_shape", s.kernel), int_attr("ceil_mode", s.ceil_mode),
                                   int_attr("count_include_pad", s.count_include_pad)};
  add_window_attrs(attrs, s.strides, s.dilations, s.pad_begin, s.pad_end);
  return attrs;
}

std::vector<Tensor> run_ok(const ir::Node& node, const std::vector<Tensor>& inputs) { return run_op(node, 19, inputs); }

Tensor iota(Shape shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i + 1);
  return Tensor::from_vector<float>(std::move(shape), v);
}

}  // namespace

TEST_CASE("pools reproduce the ONNX documentation examples") {
  const Tensor x = iota({1, 1, 5, 5});
  const ir::Node max = make_node("MaxPool", 1, 1, {ints_attr("kernel_shape", {5, 5}), ints_attr("pads", {2, 2, 2, 2})});
  check_close(run_ok(max, {x})[0], {1, 1, 5, 5},
              {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25});
  const ir::Node avg = make_node("AveragePool", 1, 1, {ints_attr("kernel_shape", {5, 5}), ints_attr("pads", {2, 2, 2, 2}),
                                                       int_attr("count_include_pad", 1)});
  check_close(run_ok(avg, {x})[0], {1, 1, 5, 5},
              {2.52, 3.6, 4.8, 4.08, 3.24, 4.56, 6.4, 8.4, 7.04, 5.52, 7.2, 10, 13, 10.8, 8.4,
               6.96, 9.6, 12.4, 10.24, 7.92, 6.12, 8.4, 10.8, 8.88, 6.84});
  const ir::Node argmax = make_node("MaxPool", 1, 2, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2}),
                                                      int_attr("storage_order", 1)});
  const auto both = run_ok(argmax, {x});
  check_close(both[0], {1, 1, 2, 2}, {7, 9, 17, 19});
  REQUIRE(both[1].dtype() == DType::kI64);
  CHECK(std::vector<int64_t>(both[1].data<int64_t>(), both[1].data<int64_t>() + 4) == std::vector<int64_t>{6, 16, 8, 18});
  const Tensor x4 = iota({1, 1, 4, 4});
  const std::vector<ir::Attribute> ceil{ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}), int_attr("ceil_mode", 1)};
  check_close(run_ok(make_node("MaxPool", 1, 1, ceil), {x4})[0], {1, 1, 2, 2}, {11, 12, 15, 16});
  check_close(run_ok(make_node("AveragePool", 1, 1, ceil), {x4})[0], {1, 1, 2, 2}, {6, 7.5, 12, 13.5});
}

TEST_CASE("pools match the direct loop over ranks, padding, strides, dilations and ceil_mode") {
  const std::vector<PoolSpec> specs = {
      {{2, 3, 13}, {3}, {2}, {}, {1}, {0}},
      {{1, 2, 9, 11}, {3, 2}, {2, 3}, {}, {1, 0}, {1, 1}, true},
      {{1, 2, 9, 11}, {3, 2}, {2, 3}, {}, {1, 0}, {1, 1}, true, true},
      {{2, 2, 10, 7}, {2, 3}, {1, 2}, {2, 2}, {1, 2}, {0, 2}, false, true},
      {{1, 1, 8, 8}, {3, 3}, {3, 3}, {2, 1}, {1, 1}, {2, 2}, true},
      {{1, 3, 6, 5, 7}, {2, 3, 2}, {2, 1, 3}, {1, 1, 2}, {1, 0, 1}, {0, 1, 1}, true, true},
      {{1, 2, 4, 5, 6}, {3, 3, 3}, {}, {}, {}, {}},
  };
  for (const PoolSpec& s : specs) {
    const Tensor x = random_tensor(s.x, 71);
    INFO("X " << shape_to_string(s.x) << " ceil=" << s.ceil_mode << " include_pad=" << s.count_include_pad);
    Shape y_shape;
    std::vector<int64_t> expected_indices;
    const auto expected_max = naive_pool(s, Kind::kMax, x, &y_shape, &expected_indices);
    const auto max = run_ok(make_node("MaxPool", 1, 2, pool_attrs(s)), {x});
    check_close(max[0], y_shape, expected_max, 0, 0);
    CHECK(std::vector<int64_t>(max[1].data<int64_t>(), max[1].data<int64_t>() + max[1].numel()) == expected_indices);
    // Without Indices, 2-D windows take the plain-loop path: the same values, exactly.
    check_close(run_ok(make_node("MaxPool", 1, 1, pool_attrs(s)), {x})[0], y_shape, expected_max, 0, 0);
    check_close(run_ok(make_node("AveragePool", 1, 1, pool_attrs(s)), {x})[0], y_shape,
                naive_pool(s, Kind::kAverage, x, &y_shape));
    auto lp_attrs = pool_attrs(s);
    lp_attrs.push_back(int_attr("p", 3));
    check_close(run_ok(make_node("LpPool", 1, 1, lp_attrs), {x})[0], y_shape, naive_pool(s, Kind::kLp, x, &y_shape, nullptr, 3));
  }
}

TEST_CASE("pools with auto_pad SAME_UPPER, SAME_LOWER and VALID") {
  // in 7, k 3, stride 2 -> SAME: out 4, total pad 2 (1 + 1); in 6, k 2, stride 2 -> out 3, no pad.
  // in 6, k 4, stride 1 -> SAME: out 6, total pad 3: UPPER 1 + 2, LOWER 2 + 1.
  const Tensor x = random_tensor({1, 2, 7, 6}, 81);
  struct Case { const char* mode; std::vector<int64_t> begin, end; };
  for (const Case& c : {Case{"SAME_UPPER", {1, 1}, {1, 2}}, Case{"SAME_LOWER", {1, 2}, {1, 1}}, Case{"VALID", {0, 0}, {0, 0}}}) {
    const PoolSpec s{{1, 2, 7, 6}, {3, 4}, {2, 1}, {}, c.begin, c.end, false, false};
    Shape y_shape;
    const ir::Node max = make_node("MaxPool", 1, 1, {string_attr("auto_pad", c.mode), ints_attr("kernel_shape", {3, 4}),
                                                     ints_attr("strides", {2, 1})});
    const ir::Node avg = make_node("AveragePool", 1, 1, {string_attr("auto_pad", c.mode), ints_attr("kernel_shape", {3, 4}),
                                                         ints_attr("strides", {2, 1})});
    INFO(c.mode);
    check_close(run_ok(max, {x})[0], y_shape, naive_pool(s, Kind::kMax, x, &y_shape));
    check_close(run_ok(avg, {x})[0], y_shape, naive_pool(s, Kind::kAverage, x, &y_shape));
  }
}

TEST_CASE("MaxPool on int8 and uint8, and on doubles") {
  const Tensor u8 = Tensor::from_vector<uint8_t>({1, 1, 2, 3}, {1, 250, 3, 4, 5, 6});
  const auto yu = run_ok(make_node("MaxPool", 1, 1, {ints_attr("kernel_shape", {2, 2})}), {u8})[0];
  REQUIRE(yu.dtype() == DType::kU8);
  CHECK(yu.data<uint8_t>()[0] == 250);
  CHECK(yu.data<uint8_t>()[1] == 250);
  const Tensor i8 = Tensor::from_vector<int8_t>({1, 1, 3}, {-128, -100, -3});
  const auto yi = run_ok(make_node("MaxPool", 1, 1, {ints_attr("kernel_shape", {2}), ints_attr("pads", {1, 0})}), {i8})[0];
  CHECK(std::vector<int8_t>(yi.data<int8_t>(), yi.data<int8_t>() + 3) == std::vector<int8_t>{-128, -100, -3});
  const Tensor d = Tensor::from_vector<double>({1, 1, 4}, {1, 2, 3, 5});
  const auto yd = run_ok(make_node("AveragePool", 1, 1, {ints_attr("kernel_shape", {2}), ints_attr("strides", {2})}), {d})[0];
  CHECK(yd.data<double>()[0] == 1.5);
  CHECK(yd.data<double>()[1] == 4.0);
}

TEST_CASE("Global pools reduce every plane") {
  const Tensor x = random_tensor({2, 3, 5, 7}, 91);
  const auto xv = x.to_floats().value();
  std::vector<double> mean, max, lp;
  for (size_t plane = 0; plane < 6; ++plane) {
    const auto begin = xv.begin() + static_cast<std::ptrdiff_t>(plane * 35), end = begin + 35;
    double sum = 0, squares = 0;
    for (auto it = begin; it != end; ++it) {
      sum += *it;
      squares += static_cast<double>(*it) * *it;
    }
    mean.push_back(sum / 35);
    max.push_back(*std::max_element(begin, end));
    lp.push_back(std::sqrt(squares));
  }
  check_close(run_ok(make_node("GlobalAveragePool", 1, 1), {x})[0], {2, 3, 1, 1}, mean);
  check_close(run_ok(make_node("GlobalMaxPool", 1, 1), {x})[0], {2, 3, 1, 1}, max, 0, 0);
  check_close(run_ok(make_node("GlobalLpPool", 1, 1), {x})[0], {2, 3, 1, 1}, lp);
  const Tensor x1 = random_tensor({1, 2, 3}, 1);
  Shape y1_shape;
  const auto y1 = naive_pool({{1, 2, 3}, {3}, {}, {}, {}, {}}, Kind::kAverage, x1, &y1_shape);
  check_close(run_ok(make_node("GlobalAveragePool", 1, 1), {x1})[0], y1_shape, y1);
}

TEST_CASE("pools reject bad inputs, naming the node") {
  const ir::Node node = make_node("MaxPool", 1, 1, {ints_attr("kernel_shape", {3, 3})});
  auto rank = runtime::run_single_op(node, 19, {random_tensor({2, 5}, 1)});
  REQUIRE_FALSE(rank.ok());
  CHECK(rank.status().code() == StatusCode::kInvalidInput);
  CHECK(rank.status().message().find("'n1'") != std::string::npos);
  auto small = runtime::run_single_op(node, 19, {random_tensor({1, 1, 2, 5}, 1)});
  CHECK(small.status().code() == StatusCode::kInvalidInput);
  auto axes = runtime::run_single_op(node, 19, {random_tensor({1, 1, 4, 4, 4}, 1)});
  CHECK(axes.status().code() == StatusCode::kInvalidInput);
  CHECK(runtime::run_single_op(make_node("MaxPool", 1, 1), 19, {random_tensor({1, 1, 4, 4}, 1)}).status().code() ==
        StatusCode::kInvalidInput);
  const ir::Node avg = make_node("AveragePool", 1, 1, {ints_attr("kernel_shape", {2})});
  CHECK(runtime::run_single_op(avg, 19, {Tensor::from_vector<int8_t>({1, 1, 4}, {1, 2, 3, 4})}).status().code() ==
        StatusCode::kUnsupported);
  const ir::Node stride = make_node("MaxPool", 1, 1, {ints_attr("kernel_shape", {2}), ints_attr("strides", {0})});
  CHECK(runtime::run_single_op(stride, 19, {random_tensor({1, 1, 4}, 1)}).status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("pools accept f16 by widening to f32, Indices stay int64") {
  const Tensor x = half_tensor({1, 1, 2, 3}, {1, 6, 3, 4, 5, 2});
  const auto max = run_ok(make_node("MaxPool", 1, 2, {ints_attr("kernel_shape", {2, 2})}), {x});
  CHECK(max[0].dtype() == DType::kF16);
  check_close(max[0], {1, 1, 1, 2}, {6, 6}, 0, 0);
  REQUIRE(max[1].dtype() == DType::kI64);
  CHECK(max[1].data<int64_t>()[0] == 1);
  const auto avg = run_ok(make_node("GlobalAveragePool", 1, 1), {x})[0];
  CHECK(avg.dtype() == DType::kF16);
  check_close(avg, {1, 1, 1, 1}, {3.5}, 0, 0);
}
