// Channels-last convolution (runtime/fused/conv_channels_last.cc over runtime/gemm/conv_gemm.h),
// its MaxPool, and the load-time layout rewrite (optimizer/rewrite_channels_last.h): each fused
// op against the reference Conv / MaxPool kernels in every layout and on every ISA path (odd
// channels, strides, pads, groups, dilations, 1-D to 3-D), and whole graphs with and without
// the rewrite.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/fused/fused_ops.h"
#include "tests/unit/runtime/conv_test_util.h"
#include "tests/unit/runtime/rewrite_test_util.h"

using namespace ember;
using namespace ember::conv_test;
using test::floats_of;

namespace {

// [N, C, spatial...] <- [N, spatial..., C].
Tensor from_channels_last(const Tensor& x) {
  const int64_t n = x.dim(0), c = x.dim(x.rank() - 1), plane = x.numel() / std::max<int64_t>(n * c, 1);
  Shape shape{n, c};
  shape.insert(shape.end(), x.shape().begin() + 1, x.shape().end() - 1);
  std::vector<float> v(static_cast<size_t>(x.numel()));
  const float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t s = 0; s < plane; ++s) v[size_t((i * c + ch) * plane + s)] = p[(i * plane + s) * c + ch];
  return Tensor::from_vector<float>(shape, v);
}

struct Spec {
  Shape x, w;
  int64_t group = 1;
  std::vector<int64_t> strides, dilations, pad_begin, pad_end;
  bool bias = true;
};

std::vector<ir::Attribute> window_attrs(const Spec& s) {
  std::vector<ir::Attribute> attrs{int_attr("group", s.group)};
  add_window_attrs(attrs, s.strides, s.dilations, s.pad_begin, s.pad_end);
  return attrs;
}

const std::vector<runtime::IsaLevel> kLevels = {runtime::IsaLevel::kScalar, runtime::IsaLevel::kAvx2,
                                                runtime::IsaLevel::kAvx512};

}  // namespace

TEST_CASE("ConvChannelsLast matches the reference Conv in every layout, on every ISA path") {
  test::ThreadsScope threads(2);  // batch 1 below splits its positions among the threads
  const std::vector<Spec> specs = {
      {{3, 13, 8, 8}, {11, 13, 3, 3}, 1, {}, {}, {1, 1}, {1, 1}},             // digits-cnn's pruned c2
      {{2, 1, 8, 8}, {13, 1, 3, 3}, 1, {}, {}, {1, 1}, {1, 1}, false},       // one input channel
      {{2, 6, 9, 7}, {10, 3, 3, 2}, 2, {2, 1}, {1, 2}, {1, 0}, {2, 1}},      // groups, strides, dilation, odd pads
      {{1, 5, 6, 7}, {53, 5, 1, 1}, 1, {}, {}, {}, {}},                      // pointwise, 53 maps (two panels)
      {{2, 3, 11}, {7, 3, 3}, 1, {2}, {2}, {1}, {2}},                        // 1-D
      {{1, 4, 4, 5, 3}, {6, 2, 2, 2, 2}, 2, {1, 2, 1}, {}, {1, 0, 1}, {0, 1, 1}},  // 3-D
      {{2, 4, 7, 6}, {4, 1, 3, 3}, 4, {}, {1, 2}, {2, 2}, {2, 2}},           // depthwise, dilated
      {{1, 16, 31, 33}, {37, 16, 3, 3}, 1, {}, {}, {1, 1}, {1, 1}},          // batch 1: threads share its positions
  };
  for (const Spec& s : specs) {
    const Tensor x = random_tensor(s.x, 71), w = random_tensor(s.w, 72), b = random_tensor({s.w[0]}, 73);
    const std::vector<Tensor> inputs{x, w, s.bias ? b : Tensor()};
    const std::vector<size_t> omitted = s.bias ? std::vector<size_t>{} : std::vector<size_t>{2};
    const Tensor expected = run_op(make_node("Conv", 3, 1, window_attrs(s), omitted), 17, inputs)[0];
    std::vector<double> relu;
    for (float v : floats_of(expected)) relu.push_back(v < 0 ? 0.0 : v);
    for (runtime::IsaLevel level : kLevels) {
      test::IsaScope isa(level);
      for (int x_cl : {0, 1})
        for (int y_cl : {0, 1})
          for (bool with_relu : {false, true}) {
            INFO("W " << shape_to_string(s.w) << " isa " << runtime::isa_name(runtime::isa_level()) << " x_cl " << x_cl
                      << " y_cl " << y_cl << " relu " << with_relu);
            std::vector<ir::Attribute> attrs = window_attrs(s);
            attrs.push_back(int_attr("x_channels_last", x_cl));
            attrs.push_back(int_attr("y_channels_last", y_cl));
            if (with_relu) attrs.push_back(string_attr("activation", "relu"));
            ir::Node node = make_node(runtime::fused::kConvChannelsLast, 3, 1, attrs, omitted);
            node.domain = runtime::fused::kDomain;
            std::vector<Tensor> in = inputs;
            if (x_cl) in[0] = to_channels_last(x);
            Tensor y = run_op(node, 17, in, true)[0];
            if (y_cl) y = from_channels_last(y);
            check_close(y, expected.shape(), with_relu ? relu : to_doubles(floats_of(expected)), 1e-5, 1e-5);
          }
    }
  }
}

TEST_CASE("ConvChannelsLast with a MaxPool in its epilogue matches Conv, Relu, then MaxPool") {
  struct Case {
    Spec conv;
    std::vector<int64_t> kernel, strides, pad_begin, pad_end;
  };
  const std::vector<Case> cases = {
      {{{5, 13, 8, 8}, {11, 13, 3, 3}, 1, {}, {}, {1, 1}, {1, 1}}, {2, 2}, {2, 2}, {}, {}},       // digits-cnn's c2
      {{{2, 6, 9, 11}, {9, 2, 3, 3}, 3, {1, 2}, {}, {0, 1}, {1, 1}}, {3, 2}, {2, 1}, {1, 0}, {1, 1}},  // groups, odd pads
      {{{2, 3, 5, 4, 6}, {4, 3, 2, 2, 3}, 1, {}, {}, {1, 0, 1}, {0, 1, 1}}, {2, 2, 2}, {1, 2, 2}, {}, {}},  // 3-D
  };
  for (const Case& c : cases) {
    const Spec& s = c.conv;
    const Tensor x = random_tensor(s.x, 75), w = random_tensor(s.w, 76), b = random_tensor({s.w[0]}, 77);
    std::vector<ir::Attribute> pool{ints_attr("kernel_shape", c.kernel)};
    add_window_attrs(pool, c.strides, {}, c.pad_begin, c.pad_end);
    const Tensor conv = run_op(make_node("Conv", 3, 1, window_attrs(s)), 17, {x, w, b})[0];
    const Tensor relu = run_op(make_node("Relu", 1, 1), 17, {conv})[0];
    const Tensor expected = run_op(make_node("MaxPool", 1, 1, pool), 17, {relu})[0];
    for (runtime::IsaLevel level : kLevels) {
      test::IsaScope isa(level);
      for (int y_cl : {0, 1}) {
        INFO("W " << shape_to_string(s.w) << " isa " << runtime::isa_name(runtime::isa_level()) << " y_cl " << y_cl);
        std::vector<ir::Attribute> attrs = window_attrs(s);
        attrs.push_back(int_attr("y_channels_last", y_cl));
        attrs.push_back(string_attr("activation", "relu"));
        for (ir::Attribute a : pool) {
          a.name = "pool_" + a.name;
          attrs.push_back(a);
        }
        ir::Node node = make_node(runtime::fused::kConvChannelsLast, 3, 1, attrs);
        node.domain = runtime::fused::kDomain;
        Tensor y = run_op(node, 17, {x, w, b}, true)[0];
        if (y_cl) y = from_channels_last(y);
        check_close(y, expected.shape(), to_doubles(floats_of(expected)), 1e-5, 1e-5);
      }
    }
  }
}

TEST_CASE("MaxPoolChannelsLast matches MaxPool: padding, strides, dilations, ceil_mode, 1-D to 3-D") {
  struct PoolSpec {
    Shape x;
    std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;
    bool ceil = false;
  };
  const std::vector<PoolSpec> specs = {
      {{3, 11, 8, 8}, {2, 2}, {2, 2}, {}, {}, {}},
      {{2, 5, 7, 9}, {3, 2}, {2, 1}, {1, 2}, {1, 0}, {1, 1}, true},
      {{2, 3, 10}, {3}, {2}, {}, {2}, {1}},
      {{1, 17, 4, 5, 3}, {2, 2, 2}, {1, 2, 1}, {}, {0, 1, 1}, {1, 0, 0}},
  };
  for (const PoolSpec& s : specs) {
    std::vector<ir::Attribute> attrs{ints_attr("kernel_shape", s.kernel)};
    add_window_attrs(attrs, s.strides, s.dilations, s.pad_begin, s.pad_end);
    if (s.ceil) attrs.push_back(int_attr("ceil_mode", 1));
    const Tensor x = random_tensor(s.x, 81);
    const Tensor expected = run_op(make_node("MaxPool", 1, 1, attrs), 17, {x})[0];
    for (int y_cl : {0, 1}) {
      INFO("X " << shape_to_string(s.x) << " y_cl " << y_cl);
      std::vector<ir::Attribute> a = attrs;
      a.push_back(int_attr("y_channels_last", y_cl));
      ir::Node node = make_node(runtime::fused::kMaxPoolChannelsLast, 1, 1, a);
      node.domain = runtime::fused::kDomain;
      Tensor y = run_op(node, 17, {to_channels_last(x)})[0];
      if (y_cl) y = from_channels_last(y);
      // The same comparisons in the same order: equal, not just close.
      check_close(y, expected.shape(), to_doubles(floats_of(expected)), 0.0, 0.0);
    }
  }
}

namespace {

using rewrite_test::Builder;

// x [N, 2, 8, 8] -> Conv(5 maps, pads 1) -> Relu -> [middle] -> Conv(3 maps, pads 1, stride 1)
// -> Relu -> MaxPool 2x2 -> Flatten -> y; `middle` adds nodes between "r1" and "m".
// The spatial sizes are left unknown at load in these graphs: with them known, such narrow
// convs run position lanes on planes (test_conv_lanes.cc), and the channels-last rules tested
// here would not come into play.
Builder conv_chain(const std::function<void(Builder&)>& middle) {
  Builder b;
  b.input("x", {-1, 2, -1, -1});
  b.output("y");
  b.init("w1", random_tensor({5, 2, 3, 3}, 91));
  b.init("b1", random_tensor({5}, 92));
  b.init("w2", random_tensor({3, 5, 3, 3}, 93));
  b.init("b2", random_tensor({3}, 94));
  b.node("Conv", {"x", "w1", "b1"}, {"c1"}, {ints_attr("pads", {1, 1, 1, 1})});
  b.node("Relu", {"c1"}, {"r1"});
  middle(b);
  b.node("Conv", {"m", "w2", "b2"}, {"c2"}, {ints_attr("pads", {1, 1, 1, 1})});
  b.node("Relu", {"c2"}, {"r2"});
  b.node("MaxPool", {"r2"}, {"p"}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})});
  b.node("Flatten", {"p"}, {"y"});
  return b;
}

std::unique_ptr<runtime::Interpreter> interpreter(const ir::Model& model, bool fuse) {
  runtime::InterpreterOptions o;
  o.fuse_float = fuse;
  auto interp = runtime::Interpreter::create(model, o);
  REQUIRE_MESSAGE(interp.ok(), interp.status().message());
  return std::move(interp).value();
}

// The fused interpreter's op counts, after checking it gives the unfused outputs (float
// rounding only: at AVX-512 the sums are the packed Conv's, in the same order; sgemm's AVX2
// and scalar tiles split narrow products into partial sums).
std::map<std::string, int> run_both(const ir::Model& model) {
  const Tensor x = random_tensor({3, 2, 8, 8}, 95);
  auto plain = interpreter(model, false)->run({{"x", x}});
  auto fused_interp = interpreter(model, true);
  auto fused = fused_interp->run({{"x", x}});
  REQUIRE(plain.ok());
  REQUIRE_MESSAGE(fused.ok(), fused.status().message());
  REQUIRE(fused->size() == plain->size());
  for (size_t i = 0; i < plain->size(); ++i)
    check_close((*fused)[i], (*plain)[i].shape(), to_doubles(floats_of((*plain)[i])), 1e-5, 1e-5);
  std::map<std::string, int> ops;
  for (const auto& n : fused_interp->model().graph.nodes) ++ops[n.op_type];
  return ops;
}

}  // namespace

TEST_CASE("channels-last rewrite: Conv, Relu, scalar ops, dynamic fake quantization and MaxPool stay NHWC") {
  for (runtime::IsaLevel level : kLevels) {
    test::IsaScope isa(level);
    INFO("isa " << runtime::isa_name(runtime::isa_level()));
    SUBCASE("ReLU only") {
      const Builder b = conv_chain([](Builder& g) { g.node("Identity", {"r1"}, {"m"}); });
      const auto ops = run_both(b.model);
      CHECK(ops.at(runtime::fused::kConvChannelsLast) == 2);
      CHECK(ops.count("Relu") == 0);  // both in the convs' epilogues
      CHECK(ops.count("MaxPool") == 0);  // in the second conv's epilogue
    }
    SUBCASE("DynamicQuantizeLinear -> DequantizeLinear and scalar Mul / Add between the convs") {
      const Builder b = conv_chain([](Builder& g) {
        g.init("half", Tensor::from_vector<float>({1}, {0.5f}));
        g.init("one", Tensor::from_vector<float>({}, {1.0f}));
        g.node("Mul", {"half", "r1"}, {"h"});
        g.node("Add", {"h", "one"}, {"a"});
        g.node("DynamicQuantizeLinear", {"a"}, {"q", "s", "z"});
        g.node("DequantizeLinear", {"q", "s", "z"}, {"m"});
      });
      const auto ops = run_both(b.model);
      CHECK(ops.at(runtime::fused::kConvChannelsLast) == 2);
      CHECK(ops.count("MaxPool") == 0);
    }
    SUBCASE("a MaxPool that shares its input with a conv runs alone, channels-last in") {
      Builder b;
      b.input("x", {-1, 2, -1, -1});
      b.output("y");
      b.output("y2");
      b.init("w1", random_tensor({5, 2, 3, 3}, 91));
      b.init("w2", random_tensor({3, 5, 2, 2}, 93));
      b.node("Conv", {"x", "w1"}, {"c1"}, {ints_attr("pads", {1, 1, 1, 1})});
      b.node("Relu", {"c1"}, {"r1"});
      b.node("MaxPool", {"r1"}, {"p"}, {ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}), ints_attr("pads", {1, 1, 1, 1})});
      b.node("Flatten", {"p"}, {"y"});
      b.node("Conv", {"r1", "w2"}, {"c2"}, {ints_attr("strides", {2, 2})});
      b.node("Flatten", {"c2"}, {"y2"});
      const auto ops = run_both(b.model);
      CHECK(ops.at(runtime::fused::kConvChannelsLast) == 2);
      CHECK(ops.at(runtime::fused::kMaxPoolChannelsLast) == 1);
    }
  }
}

TEST_CASE("channels-last rewrite: values something else reads keep their layout") {
  SUBCASE("the first conv's output is also a graph output: no channels-last edge from it") {
    Builder b = conv_chain([](Builder& g) { g.node("Identity", {"r1"}, {"m"}); });
    b.output("r1");
    const auto ops = run_both(b.model);
    CHECK(ops.at(runtime::fused::kConvChannelsLast) == 1);  // only the second conv, into its MaxPool
    CHECK(ops.at("Relu") == 1);
  }
  SUBCASE("a non-scalar Mul between the convs ends the region") {
    Builder b = conv_chain([](Builder& g) {
      g.init("scale", random_tensor({1, 5, 1, 1}, 96));
      g.node("Mul", {"r1", "scale"}, {"m"});
    });
    const auto ops = run_both(b.model);
    CHECK(ops.at(runtime::fused::kConvChannelsLast) == 1);
    CHECK(ops.count("Conv") == 1);
  }
  SUBCASE("a MaxPool of quantized integers keeps planes (the fused ops read floats)") {
    Builder b = conv_chain([](Builder& g) {
      g.init("qs", Tensor::from_vector<float>({}, {0.05f}));
      g.init("qz", Tensor::from_vector<uint8_t>({}, {std::uint8_t{0}}));
      g.node("QuantizeLinear", {"r1", "qs", "qz"}, {"q"});
      g.node("MaxPool", {"q"}, {"qp"}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {1, 1}), ints_attr("pads", {0, 0, 1, 1})});
      g.node("DequantizeLinear", {"qp", "qs", "qz"}, {"m"});
    });
    const auto ops = run_both(b.model);
    CHECK(ops.at("MaxPool") == 1);  // the u8 one, as it was
    CHECK(ops.at(runtime::fused::kConvChannelsLast) == 1);  // the second conv, with its pool
  }
  SUBCASE("a conv straight into Flatten keeps planes") {
    Builder b;
    b.input("x", {-1, 2, -1, -1});
    b.output("y");
    b.init("w1", random_tensor({5, 2, 3, 3}, 91));
    b.node("Conv", {"x", "w1"}, {"c1"});
    b.node("Relu", {"c1"}, {"r1"});
    b.node("Flatten", {"r1"}, {"y"});
    const auto ops = run_both(b.model);
    CHECK(ops.count(runtime::fused::kConvChannelsLast) == 0);
    CHECK(ops.at("Conv") == 1);
  }
  SUBCASE("a channels-last value is renamed, so it cannot be fetched under its old name") {
    const Builder b = conv_chain([](Builder& g) { g.node("Identity", {"r1"}, {"m"}); });
    auto fused = interpreter(b.model, true);
    auto got = fused->run_and_fetch({{"x", random_tensor({1, 2, 8, 8}, 97)}}, {"m"});
    CHECK_FALSE(got.ok());
  }
}
