// Conv and ConvTranspose against direct loops over 1-D, 2-D and 3-D inputs with groups,
// strides, dilations, asymmetric and automatic padding; plus the ONNX documentation examples.
#include <doctest/doctest.h>

#include "tests/unit/runtime/conv_test_util.h"

using namespace ember;
using namespace ember::conv_test;

namespace {

struct ConvSpec {
  Shape x, w;  // Conv: W [M, C/group, k...]; ConvTranspose: W [C, M/group, k...]
  int64_t group = 1;
  std::vector<int64_t> strides, dilations, pad_begin, pad_end;
  bool bias = true;
};

std::vector<int64_t> or_ones(const std::vector<int64_t>& v, size_t n, int64_t fill = 1) {
  return v.empty() ? std::vector<int64_t>(n, fill) : v;
}

// Decomposes a flat index into coordinates of `shape`.
std::vector<int64_t> coords(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> c(shape.size());
  for (size_t a = shape.size(); a-- > 0;) {
    c[a] = flat % shape[a];
    flat /= shape[a];
  }
  return c;
}

int64_t flat_index(const std::vector<int64_t>& c, const std::vector<int64_t>& shape) {
  int64_t f = 0;
  for (size_t a = 0; a < shape.size(); ++a) f = f * shape[a] + c[a];
  return f;
}

// Direct convolution; returns Y and its shape.
std::vector<double> naive_conv(const ConvSpec& s, const Tensor& x, const Tensor& w, const Tensor* b, Shape* y_shape) {
  const size_t r = s.x.size() - 2;
  const std::vector<int64_t> in(s.x.begin() + 2, s.x.end()), k(s.w.begin() + 2, s.w.end());
  const auto st = or_ones(s.strides, r), dl = or_ones(s.dilations, r);
  const auto pb = or_ones(s.pad_begin, r, 0), pe = or_ones(s.pad_end, r, 0);
  std::vector<int64_t> out(r);
  for (size_t a = 0; a < r; ++a) out[a] = (in[a] + pb[a] + pe[a] - ((k[a] - 1) * dl[a] + 1)) / st[a] + 1;
  const int64_t N = s.x[0], C = s.x[1], M = s.w[0], cg = C / s.group, mg = M / s.group;
  *y_shape = {N, M};
  y_shape->insert(y_shape->end(), out.begin(), out.end());
  const auto xv = x.to_floats().value(), wv = w.to_floats().value();
  const int64_t in_plane = shape_numel(in), out_plane = shape_numel(out), k_plane = shape_numel(k);
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t p = 0; p < out_plane; ++p) {
        const auto o = coords(p, out);
        double sum = b ? b->to_floats().value()[static_cast<size_t>(m)] : 0.0;
        const int64_t g = m / mg;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t kk = 0; kk < k_plane; ++kk) {
            const auto kc = coords(kk, k);
            std::vector<int64_t> i(r);
            bool inside = true;
            for (size_t a = 0; a < r; ++a) {
              i[a] = o[a] * st[a] - pb[a] + kc[a] * dl[a];
              inside = inside && i[a] >= 0 && i[a] < in[a];
            }
            if (!inside) continue;
            sum += static_cast<double>(xv[static_cast<size_t>((n * C + g * cg + c) * in_plane + flat_index(i, in))]) *
                   wv[static_cast<size_t>((m * cg + c) * k_plane + kk)];
          }
        y.push_back(sum);
      }
  return y;
}

std::vector<ir::Attribute> conv_attrs(const ConvSpec& s) {
  std::vector<ir::Attribute> attrs{int_attr("group", s.group)};
  add_window_attrs(attrs, s.strides, s.dilations, s.pad_begin, s.pad_end);
  return attrs;
}

std::vector<Tensor> run_ok(const ir::Node& node, const std::vector<Tensor>& inputs, bool constant = false) {
  return run_op(node, 17, inputs, constant);
}

}  // namespace

TEST_CASE("Conv reproduces the ONNX documentation example") {
  std::vector<float> x(25);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const Tensor xt = Tensor::from_vector<float>({1, 1, 5, 5}, x);
  const Tensor w = Tensor::from_vector<float>({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  const ir::Node padded = make_node("Conv", 2, 1, {ints_attr("kernel_shape", {3, 3}), ints_attr("pads", {1, 1, 1, 1})});
  check_close(run_ok(padded, {xt, w})[0], {1, 1, 5, 5},
              {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
  const ir::Node valid = make_node("Conv", 2, 1, {ints_attr("kernel_shape", {3, 3})});
  check_close(run_ok(valid, {xt, w})[0], {1, 1, 3, 3}, {54, 63, 72, 99, 108, 117, 144, 153, 162});
}

TEST_CASE("Conv matches the direct loop for 1-D, 2-D and 3-D shapes") {
  const std::vector<ConvSpec> specs = {
      {{2, 3, 11}, {4, 3, 3}, 1, {2}, {2}, {1}, {2}},                        // 1-D strided, dilated
      {{1, 4, 7, 9}, {6, 2, 3, 3}, 2, {}, {}, {1, 0}, {0, 2}},              // groups, asymmetric pads
      {{2, 3, 8, 7}, {3, 1, 3, 3}, 3, {2, 2}, {}, {1, 1}, {1, 1}},          // depthwise, strided
      {{1, 2, 9, 9}, {6, 1, 3, 3}, 2, {1, 2}, {2, 1}, {2, 1}, {0, 3}},      // multiplier 3, dilated
      {{1, 5, 6, 7}, {7, 5, 1, 1}, 1, {}, {}, {}, {}, false},                // pointwise, no bias
      {{1, 4, 6, 7}, {4, 2, 1, 1}, 2, {2, 3}, {}, {}, {}},                  // strided 1x1
      {{1, 3, 17, 31}, {5, 3, 5, 3}, 1, {3, 2}, {}, {2, 1}, {2, 1}},
      {{1, 2, 5, 6, 7}, {4, 2, 3, 2, 3}, 1, {2, 1, 2}, {1, 2, 1}, {1, 0, 1}, {0, 1, 2}},  // 3-D
      {{2, 4, 4, 5, 3}, {4, 2, 2, 2, 2}, 2, {}, {}, {}, {}, false},
  };
  for (const ConvSpec& s : specs) {
    const Tensor x = random_tensor(s.x, 11), w = random_tensor(s.w, 12), b = random_tensor({s.w[0]}, 13);
    Shape y_shape;
    const auto expected = naive_conv(s, x, w, s.bias ? &b : nullptr, &y_shape);
    const ir::Node node = make_node("Conv", 3, 1, conv_attrs(s), s.bias ? std::vector<size_t>{} : std::vector<size_t>{2});
    for (bool constant : {false, true}) {
      INFO("X " << shape_to_string(s.x) << " W " << shape_to_string(s.w) << " constant=" << constant);
      check_close(run_ok(node, {x, w, s.bias ? b : Tensor()}, constant)[0], y_shape, expected);
    }
  }
}

TEST_CASE("Conv splits large column buffers and still matches") {
  const ConvSpec s{{1, 64, 97, 101}, {2, 64, 3, 3}, 1, {}, {}, {1, 1}, {1, 1}};
  const Tensor x = random_tensor(s.x, 21), w = random_tensor(s.w, 22), b = random_tensor({2}, 23);
  Shape y_shape;
  const auto expected = naive_conv(s, x, w, &b, &y_shape);
  for (bool constant : {false, true}) {  // constant W too large for the packed path: the same split
    INFO("constant=" << constant);
    check_close(run_ok(make_node("Conv", 3, 1, conv_attrs(s)), {x, w, b}, constant)[0], y_shape, expected, 1e-3, 1e-4);
  }
}

TEST_CASE("Conv with constant weights runs a batch as GEMM slices of several images and still matches") {
  // 8x8 images, 16 channels, 3x3 taps: 4608 floats of patches per image (per group), so a
  // 64K-float slice holds 14 images and 37 make two full slices and a partial one; groups,
  // padding, a stride and a dilation.
  const std::vector<ConvSpec> specs = {
      {{37, 16, 8, 8}, {12, 8, 3, 3}, 2, {}, {}, {1, 1}, {1, 1}},
      {{37, 16, 8, 8}, {6, 16, 3, 3}, 1, {2, 1}, {1, 2}, {0, 2}, {1, 2}, false},
  };
  for (const ConvSpec& s : specs) {
    const Tensor x = random_tensor(s.x, 41), w = random_tensor(s.w, 42), b = random_tensor({s.w[0]}, 43);
    Shape y_shape;
    const auto expected = naive_conv(s, x, w, s.bias ? &b : nullptr, &y_shape);
    const ir::Node node = make_node("Conv", 3, 1, conv_attrs(s), s.bias ? std::vector<size_t>{} : std::vector<size_t>{2});
    INFO("W " << shape_to_string(s.w));
    check_close(run_ok(node, {x, w, s.bias ? b : Tensor()}, true)[0], y_shape, expected);
  }
}

TEST_CASE("Conv auto_pad SAME_UPPER, SAME_LOWER and VALID") {
  const Tensor x = random_tensor({1, 2, 6, 5}, 31), w = random_tensor({3, 2, 3, 2}, 32);
  // Axis 0: in 6, k 3, stride 2 -> out 3, total pad 1. Axis 1: in 5, k 2, stride 2 -> out 3, total pad 1.
  struct Case { const char* mode; std::vector<int64_t> begin, end; };
  for (const Case& c : {Case{"SAME_UPPER", {0, 0}, {1, 1}}, Case{"SAME_LOWER", {1, 1}, {0, 0}}, Case{"VALID", {0, 0}, {0, 0}}}) {
    const ConvSpec s{{1, 2, 6, 5}, {3, 2, 3, 2}, 1, {2, 2}, {}, c.begin, c.end, false};
    Shape y_shape;
    const auto expected = naive_conv(s, x, w, nullptr, &y_shape);
    // Explicit pads are ignored under auto_pad.
    const ir::Node node = make_node("Conv", 2, 1, {string_attr("auto_pad", c.mode), ints_attr("strides", {2, 2}),
                                                   ints_attr("pads", {5, 5, 5, 5})});
    INFO(c.mode);
    check_close(run_ok(node, {x, w})[0], y_shape, expected);
  }
}

TEST_CASE("Conv on doubles") {
  const ConvSpec s{{1, 2, 5, 4}, {2, 1, 2, 3}, 2, {1, 2}, {}, {1, 0}, {0, 1}};
  const Tensor xf = random_tensor(s.x, 41), wf = random_tensor(s.w, 42), bf = random_tensor({2}, 43);
  auto to_double = [](const Tensor& t) {
    const auto v = t.to_floats().value();
    return Tensor::from_vector<double>(t.shape(), std::vector<double>(v.begin(), v.end()));
  };
  Shape y_shape;
  const auto expected = naive_conv(s, xf, wf, &bf, &y_shape);
  const auto y = run_ok(make_node("Conv", 3, 1, conv_attrs(s)), {to_double(xf), to_double(wf), to_double(bf)})[0];
  CHECK(y.dtype() == DType::kF64);
  check_close(y, y_shape, expected, 1e-6, 1e-6);  // compared through float
}

TEST_CASE("Conv rejects inconsistent shapes, naming the node") {
  const ir::Node node = make_node("Conv", 3, 1, {int_attr("group", 2)});
  const Tensor x = random_tensor({1, 4, 5, 5}, 1);
  auto channels = runtime::run_single_op(node, 17, {x, random_tensor({4, 3, 3, 3}, 2), Tensor()});
  REQUIRE_FALSE(channels.ok());
  CHECK(channels.status().code() == StatusCode::kInvalidInput);
  CHECK(channels.status().message().find("'n1'") != std::string::npos);
  auto bias = runtime::run_single_op(node, 17, {x, random_tensor({4, 2, 3, 3}, 2), random_tensor({3}, 3)});
  CHECK(bias.status().code() == StatusCode::kInvalidInput);
  auto rank = runtime::run_single_op(node, 17, {x, random_tensor({4, 2, 3}, 2), Tensor()});
  CHECK(rank.status().code() == StatusCode::kInvalidInput);
  auto too_big = runtime::run_single_op(make_node("Conv", 2, 1), 17, {x, random_tensor({1, 4, 7, 7}, 2)});
  CHECK(too_big.status().code() == StatusCode::kInvalidInput);
  const ir::Node kernel = make_node("Conv", 2, 1, {ints_attr("kernel_shape", {2, 2})});
  CHECK(runtime::run_single_op(kernel, 17, {x, random_tensor({1, 4, 3, 3}, 2)}).status().code() ==
        StatusCode::kInvalidInput);
  const ir::Node bad_pad = make_node("Conv", 2, 1, {string_attr("auto_pad", "SAME")});
  CHECK(runtime::run_single_op(bad_pad, 17, {x, random_tensor({1, 4, 3, 3}, 2)}).status().code() ==
        StatusCode::kInvalidInput);
}

namespace {

// Direct transposed convolution (scatter) into an output of the given spatial size.
std::vector<double> naive_conv_transpose(const ConvSpec& s, const Tensor& x, const Tensor& w, const Tensor* b,
                                         const std::vector<int64_t>& out, Shape* y_shape) {
  const size_t r = s.x.size() - 2;
  const std::vector<int64_t> in(s.x.begin() + 2, s.x.end()), k(s.w.begin() + 2, s.w.end());
  const auto st = or_ones(s.strides, r), dl = or_ones(s.dilations, r), pb = or_ones(s.pad_begin, r, 0);
  const int64_t N = s.x[0], C = s.x[1], cg = C / s.group, mg = s.w[1], M = mg * s.group;
  *y_shape = {N, M};
  y_shape->insert(y_shape->end(), out.begin(), out.end());
  const int64_t in_plane = shape_numel(in), out_plane = shape_numel(out), k_plane = shape_numel(k);
  const auto xv = x.to_floats().value(), wv = w.to_floats().value();
  std::vector<double> y(static_cast<size_t>(N * M * out_plane), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < in_plane; ++p)
        for (int64_t m = 0; m < mg; ++m)
          for (int64_t kk = 0; kk < k_plane; ++kk) {
            const auto i = coords(p, in), kc = coords(kk, k);
            std::vector<int64_t> o(r);
            bool inside = true;
            for (size_t a = 0; a < r; ++a) {
              o[a] = i[a] * st[a] - pb[a] + kc[a] * dl[a];
              inside = inside && o[a] >= 0 && o[a] < out[a];
            }
            if (!inside) continue;
            const int64_t channel = (c / cg) * mg + m;
            y[static_cast<size_t>((n * M + channel) * out_plane + flat_index(o, out))] +=
                static_cast<double>(xv[static_cast<size_t>((n * C + c) * in_plane + p)]) *
                wv[static_cast<size_t>((c * mg + m) * k_plane + kk)];
          }
  if (b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t p = 0; p < out_plane; ++p)
          y[static_cast<size_t>((n * M + m) * out_plane + p)] += b->to_floats().value()[static_cast<size_t>(m)];
  return y;
}

}  // namespace

TEST_CASE("ConvTranspose reproduces the ONNX documentation example") {
  std::vector<float> x(9);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const Tensor xt = Tensor::from_vector<float>({1, 1, 3, 3}, x);
  const Tensor w = Tensor::from_vector<float>({1, 2, 3, 3}, std::vector<float>(18, 1.0f));
  const std::vector<double> plane = {0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
  std::vector<double> expected = plane;
  expected.insert(expected.end(), plane.begin(), plane.end());
  check_close(run_ok(make_node("ConvTranspose", 2, 1), {xt, w})[0], {1, 2, 5, 5}, expected);
}

TEST_CASE("ConvTranspose matches the scatter loop with strides, pads, output_padding, dilations and groups") {
  struct Case { ConvSpec s; std::vector<int64_t> output_padding; };
  const std::vector<Case> cases = {
      {{{2, 3, 7}, {3, 2, 3}, 1, {2}, {1}, {1}, {0}}, {1}},
      {{{1, 4, 5, 6}, {4, 3, 3, 2}, 2, {2, 3}, {1, 2}, {1, 0}, {2, 1}}, {1, 2}},
      {{{1, 3, 4, 3}, {3, 1, 3, 3}, 3, {1, 1}, {2, 2}, {0, 0}, {0, 0}, false}, {}},
      {{{1, 2, 3, 4, 3}, {2, 2, 2, 3, 2}, 1, {2, 1, 3}, {}, {0, 1, 1}, {1, 0, 0}}, {0, 0, 2}},
      {{{1, 6, 4, 4}, {6, 1, 1, 1}, 1, {}, {}, {}, {}}, {}},
  };
  for (const Case& c : cases) {
    const ConvSpec& s = c.s;
    const size_t r = s.x.size() - 2;
    std::vector<int64_t> out(r);
    for (size_t a = 0; a < r; ++a) {
      const int64_t st = s.strides.empty() ? 1 : s.strides[a], dl = s.dilations.empty() ? 1 : s.dilations[a];
      const int64_t pads = s.pad_begin.empty() ? 0 : s.pad_begin[a] + s.pad_end[a];
      out[a] = st * (s.x[a + 2] - 1) + (c.output_padding.empty() ? 0 : c.output_padding[a]) +
               (s.w[a + 2] - 1) * dl + 1 - pads;
    }
    const Tensor x = random_tensor(s.x, 51), w = random_tensor(s.w, 52), b = random_tensor({s.w[1] * s.group}, 53);
    Shape y_shape;
    const auto expected = naive_conv_transpose(s, x, w, s.bias ? &b : nullptr, out, &y_shape);
    auto attrs = conv_attrs(s);
    if (!c.output_padding.empty()) attrs.push_back(ints_attr("output_padding", c.output_padding));
    const ir::Node node = make_node("ConvTranspose", 3, 1, attrs, s.bias ? std::vector<size_t>{} : std::vector<size_t>{2});
    INFO("X " << shape_to_string(s.x) << " W " << shape_to_string(s.w));
    check_close(run_ok(node, {x, w, s.bias ? b : Tensor()})[0], y_shape, expected);
  }
}

TEST_CASE("ConvTranspose output_shape and auto_pad place the odd padding unit as the spec says") {
  // in 3, stride 2, k 3: the full output is 7. output_shape 6 and SAME (6) both leave total padding 1:
  // SAME_UPPER puts it at the end (begin 0), NOTSET and SAME_LOWER at the beginning (begin 1).
  const Tensor x = random_tensor({1, 2, 3, 3}, 61), w = random_tensor({2, 1, 3, 3}, 62);
  struct Case { std::vector<ir::Attribute> attrs; int64_t begin; std::vector<int64_t> out; };
  const std::vector<Case> cases = {
      {{ints_attr("output_shape", {6, 6})}, 1, {6, 6}},
      {{ints_attr("output_shape", {1, 1, 6, 6}), ints_attr("pads", {3, 3, 3, 3})}, 1, {6, 6}},
      {{ints_attr("output_shape", {6, 6}), string_attr("auto_pad", "SAME_UPPER")}, 0, {6, 6}},
      {{string_attr("auto_pad", "SAME_UPPER")}, 0, {6, 6}},
      {{string_attr("auto_pad", "SAME_LOWER")}, 1, {6, 6}},
      {{ints_attr("output_shape", {8, 9})}, 0, {8, 9}},  // larger than the full output: zeros at the end
  };
  for (const Case& c : cases) {
    auto attrs = c.attrs;
    attrs.push_back(ints_attr("strides", {2, 2}));
    const ConvSpec s{{1, 2, 3, 3}, {2, 1, 3, 3}, 1, {2, 2}, {}, {c.begin, c.begin}, {0, 0}, false};
    Shape y_shape;
    const auto expected = naive_conv_transpose(s, x, w, nullptr, c.out, &y_shape);
    check_close(run_ok(make_node("ConvTranspose", 2, 1, attrs), {x, w})[0], y_shape, expected);
  }
}

TEST_CASE("ConvTranspose rejects inconsistent shapes, naming the node") {
  const ir::Node node = make_node("ConvTranspose", 2, 1, {int_attr("group", 2)});
  auto channels = runtime::run_single_op(node, 17, {random_tensor({1, 4, 3, 3}, 1), random_tensor({3, 2, 3, 3}, 2)});
  REQUIRE_FALSE(channels.ok());
  CHECK(channels.status().code() == StatusCode::kInvalidInput);
  CHECK(channels.status().message().find("'n1'") != std::string::npos);
  const ir::Node shape = make_node("ConvTranspose", 2, 1, {ints_attr("output_shape", {4, 4, 4})});
  CHECK(runtime::run_single_op(shape, 17, {random_tensor({1, 1, 3, 3}, 1), random_tensor({1, 1, 3, 3}, 2)})
            .status()
            .code() == StatusCode::kInvalidInput);
}

TEST_CASE("Conv and ConvTranspose accept f16 by widening to f32") {
  const ConvSpec s{{1, 2, 4, 5}, {3, 2, 2, 2}, 1, {}, {}, {1, 0}, {0, 1}};
  const Tensor x = random_tensor(s.x, 71), w = random_tensor(s.w, 72), b = random_tensor({3}, 73);
  auto as_half = [](const Tensor& t) { return half_tensor(t.shape(), t.to_floats().value()); };
  const Tensor xh = as_half(x), wh = as_half(w), bh = as_half(b);
  // The reference sees the same f16-rounded inputs.
  Shape y_shape;
  const Tensor xr = Tensor::from_vector<float>(s.x, xh.to_floats().value());
  const Tensor wr = Tensor::from_vector<float>(s.w, wh.to_floats().value());
  const Tensor br = Tensor::from_vector<float>({3}, bh.to_floats().value());
  const auto reference = naive_conv(s, xr, wr, &br, &y_shape);
  const auto y = run_ok(make_node("Conv", 3, 1, conv_attrs(s)), {xh, wh, bh})[0];
  CHECK(y.dtype() == DType::kF16);
  check_close(y, y_shape, reference, 2e-3, 2e-3);  // one f16 rounding of the result
  const auto t = run_ok(make_node("ConvTranspose", 2, 1), {as_half(random_tensor({1, 1, 3, 3}, 74)),
                                                          as_half(random_tensor({1, 2, 2, 2}, 75))})[0];
  CHECK(t.dtype() == DType::kF16);
  CHECK(t.shape() == Shape{1, 2, 4, 4});
}
