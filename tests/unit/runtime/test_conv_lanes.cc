// Position-lane convolution (runtime/gemm/conv_lanes.h) inside ConvChannelsLast: forced with
// lanes = "positions", against the reference Conv (tolerance) and against the channel-lane
// path (lanes = "channels": the same FMAs in the same order, so equal floats) at every ISA
// level, for tails in the output channels (1, 3, 11, 13, 17) and the input channels, odd
// spatial sizes, pads, dilations, groups, 1-D and 3-D, the MaxPool epilogue, every layout and
// batch 1 split among threads; and the cost model that picks the lanes.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/gemm/conv_lanes.h"
#include "tests/unit/runtime/conv_test_util.h"
#include "tests/unit/runtime/rewrite_test_util.h"

using namespace ember;
using namespace ember::conv_test;
using test::floats_of;

namespace {

struct Spec {
  Shape x, w;
  int64_t group = 1;
  std::vector<int64_t> dilations, pad_begin, pad_end;
};

std::vector<ir::Attribute> window_attrs(const Spec& s) {
  std::vector<ir::Attribute> attrs{int_attr("group", s.group)};
  add_window_attrs(attrs, {}, s.dilations, s.pad_begin, s.pad_end);
  return attrs;
}

const std::vector<runtime::IsaLevel> kLevels = {runtime::IsaLevel::kScalar, runtime::IsaLevel::kAvx2,
                                                runtime::IsaLevel::kAvx512};

Tensor fused_conv(std::vector<ir::Attribute> attrs, const std::string& lanes, int x_cl, int y_cl,
                  const std::vector<Tensor>& inputs) {
  attrs.push_back(string_attr("lanes", lanes));
  attrs.push_back(int_attr("x_channels_last", x_cl));
  attrs.push_back(int_attr("y_channels_last", y_cl));
  ir::Node node = make_node(runtime::fused::kConvChannelsLast, 3, 1, attrs);
  node.domain = runtime::fused::kDomain;
  std::vector<Tensor> in = inputs;
  if (x_cl) in[0] = to_channels_last(in[0]);
  return run_op(node, 17, in, true)[0];
}

void check_equal(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<float> x = floats_of(a), y = floats_of(b);
  size_t differ = 0;
  for (size_t i = 0; i < x.size(); ++i) differ += x[i] != y[i];
  CHECK(differ == 0);
}

}  // namespace

TEST_CASE("position lanes: ConvChannelsLast equals the channel lanes bit for bit and the reference Conv") {
  test::ThreadsScope threads(2);  // batch 1 below splits its grid among the threads
  const std::vector<Spec> specs = {
      {{3, 13, 8, 8}, {11, 13, 3, 3}, 1, {}, {1, 1}, {1, 1}},    // digits-cnn's pruned c2
      {{2, 1, 8, 8}, {13, 1, 3, 3}, 1, {}, {1, 1}, {1, 1}},      // digits-cnn's pruned c1: one input channel
      {{2, 3, 9, 7}, {1, 3, 3, 3}, 1, {}, {1, 1}, {1, 1}},       // one output channel, odd sizes
      {{2, 11, 5, 13}, {3, 11, 3, 2}, 1, {2, 1}, {2, 0}, {1, 1}},  // 3 maps, dilation, odd pads
      {{2, 17, 7, 9}, {17, 17, 3, 3}, 1, {}, {1, 1}, {1, 1}},    // 17 maps: two blocks at AVX-512, three at AVX2
      {{1, 13, 11, 11}, {13, 13, 3, 3}, 1, {}, {1, 1}, {1, 1}},  // batch 1: the threads share the grid
      {{2, 6, 9, 7}, {10, 3, 3, 2}, 2, {1, 2}, {1, 0}, {2, 1}},  // groups
      {{2, 3, 11}, {7, 3, 3}, 1, {2}, {1}, {2}},                 // 1-D
      {{1, 4, 4, 5, 3}, {6, 2, 2, 2, 2}, 2, {}, {1, 0, 1}, {0, 1, 1}},  // 3-D
      {{2, 5, 6, 7}, {3, 5, 1, 1}, 1, {}, {}, {}},               // pointwise, no padding
  };
  for (const Spec& s : specs) {
    const Tensor x = random_tensor(s.x, 81), w = random_tensor(s.w, 82), b = random_tensor({s.w[0]}, 83);
    const Tensor conv = run_op(make_node("Conv", 3, 1, window_attrs(s)), 17, {x, w, b})[0];
    std::vector<double> relu;
    for (float v : floats_of(conv)) relu.push_back(v < 0 ? 0.0 : v);
    for (runtime::IsaLevel level : kLevels) {
      test::IsaScope isa(level);
      for (int x_cl : {0, 1})
        for (int y_cl : {0, 1}) {
          INFO("W " << shape_to_string(s.w) << " isa " << runtime::isa_name(runtime::isa_level()) << " x_cl " << x_cl
                    << " y_cl " << y_cl);
          std::vector<ir::Attribute> attrs = window_attrs(s);
          attrs.push_back(string_attr("activation", "relu"));
          const Tensor positions = fused_conv(attrs, "positions", x_cl, y_cl, {x, w, b});
          const Tensor channels = fused_conv(attrs, "channels", x_cl, y_cl, {x, w, b});
          check_equal(positions, channels);
          const Tensor expected_layout = y_cl ? to_channels_last(conv) : conv;
          std::vector<double> want = relu;
          if (y_cl) {
            want.clear();
            for (float v : floats_of(expected_layout)) want.push_back(v < 0 ? 0.0 : v);
          }
          check_close(positions, expected_layout.shape(), want, 1e-5, 1e-5);
        }
    }
  }
}

TEST_CASE("position lanes: the MaxPool epilogue, into planes and channels-last") {
  struct Case {
    Spec conv;
    std::vector<int64_t> kernel, strides, pad_begin, pad_end;
  };
  const std::vector<Case> cases = {
      {{{5, 13, 8, 8}, {11, 13, 3, 3}, 1, {}, {1, 1}, {1, 1}}, {2, 2}, {2, 2}, {}, {}},      // digits-cnn's c2
      {{{2, 3, 9, 11}, {13, 3, 3, 3}, 1, {}, {0, 1}, {1, 1}}, {3, 2}, {2, 1}, {1, 0}, {1, 1}},  // odd pads
  };
  for (const Case& c : cases) {
    const Spec& s = c.conv;
    const Tensor x = random_tensor(s.x, 85), w = random_tensor(s.w, 86), b = random_tensor({s.w[0]}, 87);
    std::vector<ir::Attribute> pool{ints_attr("kernel_shape", c.kernel)};
    add_window_attrs(pool, c.strides, {}, c.pad_begin, c.pad_end);
    for (runtime::IsaLevel level : kLevels) {
      test::IsaScope isa(level);
      for (int y_cl : {0, 1}) {
        INFO("W " << shape_to_string(s.w) << " isa " << runtime::isa_name(runtime::isa_level()) << " y_cl " << y_cl);
        std::vector<ir::Attribute> attrs = window_attrs(s);
        attrs.push_back(string_attr("activation", "relu"));
        for (ir::Attribute a : pool) {
          a.name = "pool_" + a.name;
          attrs.push_back(a);
        }
        check_equal(fused_conv(attrs, "positions", 0, y_cl, {x, w, b}), fused_conv(attrs, "channels", 0, y_cl, {x, w, b}));
      }
    }
  }
}

TEST_CASE("position lanes: a stride other than 1 is refused when forced") {
  std::vector<ir::Attribute> attrs{ints_attr("strides", {2, 2}), string_attr("lanes", "positions")};
  ir::Node node = make_node(runtime::fused::kConvChannelsLast, 2, 1, attrs);
  node.domain = runtime::fused::kDomain;
  const Status status = test::run_status(node, 17, {random_tensor({1, 2, 6, 6}, 1), random_tensor({3, 2, 3, 3}, 2)}, true);
  CHECK_FALSE(status.ok());
  CHECK(status.message().find("stride 1") != std::string::npos);
}

TEST_CASE("position lanes: weights packed at one level run at a lower one, repacked from their blocks") {
  // A 1-D conv of 3 taps over 3 channel planes of 40 floats, 13 output channels: blocks of 7 + 6
  // at AVX-512, 5 + 4 + 4 at AVX2, one row each on the scalar path.
  const int64_t M = 13, C = 3, plane = 40, count = 38, K = 3 * C;
  const std::vector<int64_t> taps = {0, 1, 2};
  const Tensor w = random_tensor({M, K}, 91), image = random_tensor({C * plane + 16}, 92), bias = random_tensor({M}, 93);
  auto run = [&](const runtime::PackedLaneWeights& packed) {
    const int64_t ldy = (count + 15) / 16 * 16;
    std::vector<float> y(size_t(M * ldy), 0.0f), out;
    runtime::LaneConvArgs a;
    a.image = image.data<float>(), a.plane = plane, a.channels = C, a.taps = taps.data(), a.tap_count = 3;
    a.count = count, a.bias = bias.data<float>(), a.y = y.data(), a.ldy = ldy;
    runtime::conv_position_lanes(a, packed);
    for (int64_t m = 0; m < M; ++m) out.insert(out.end(), y.begin() + m * ldy, y.begin() + m * ldy + count);
    return out;
  };
  std::vector<double> want;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < count; ++o) {
      double sum = bias.data<float>()[m];
      for (int64_t t = 0; t < 3; ++t)
        for (int64_t c = 0; c < C; ++c) sum += double(image.data<float>()[c * plane + taps[size_t(t)] + o]) * w.data<float>()[m * K + t * C + c];
      want.push_back(sum);
    }
  const runtime::PackedLaneWeights packed = runtime::PackedLaneWeights::pack(w.data<float>(), M, K);  // at the best level
  for (runtime::IsaLevel level : kLevels) {
    test::IsaScope isa(level);
    INFO("isa " << runtime::isa_name(runtime::isa_level()));
    const std::vector<float> repacked = run(packed);
    CHECK(repacked == run(runtime::PackedLaneWeights::pack(w.data<float>(), M, K)));  // the same as packed at this level
    for (size_t i = 0; i < want.size(); ++i) CHECK(repacked[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
}

TEST_CASE("position lanes: the cost model picks them where the channels fill the vector worse") {
  test::IsaScope isa(runtime::IsaLevel::kAvx512);
  if (runtime::isa_level() != runtime::IsaLevel::kAvx512) {
    MESSAGE("EMBER-SKIP: no AVX-512 on this CPU");
    return;
  }
  // digits-cnn's c2 (13 input channels, 3x3) on 8x8 images padded to 10x10: 64 outputs on a grid
  // of 78, X and Y both planes or both channels-last.
  auto shape = [](int64_t maps, bool channels_last) {
    runtime::LaneShape s;
    s.maps = maps, s.depth = 13 * 9, s.positions = 64, s.grid = 78;
    s.x_floats = 64 * 13, s.y_floats = 64 * maps;
    s.x_channels_last = s.y_channels_last = channels_last;
    return s;
  };
  // 11 maps: one vector of 11 lanes a position, 64 * 117 FMAs counted 5/4; 11 * ceil(78 / 16) * 117
  // on positions; copies of X and Y (832 + 704 floats) at 2 each on the side whose layout differs.
  runtime::LaneCosts c = runtime::lane_costs(shape(11, false));
  CHECK(c.channels == 9360 + 3072);
  CHECK(c.positions == 6435);
  CHECK(runtime::choose_position_lanes(shape(11, false)));
  c = runtime::lane_costs(shape(11, true));
  CHECK(c.channels == 9360);
  CHECK(c.positions == 6435 + 3072);
  CHECK_FALSE(runtime::choose_position_lanes(shape(11, true)));  // channels-last: the copies cost more than the lanes save
  CHECK_FALSE(runtime::choose_position_lanes(shape(16, true)));  // whole vectors: 9360 against 9360 + copies
  CHECK_FALSE(runtime::choose_position_lanes(shape(32, true)));  // 14976 against 18720 + copies
  runtime::LaneShape large = shape(11, false);
  large.x_floats = runtime::kMaxLaneImageFloats + 1;
  CHECK_FALSE(runtime::choose_position_lanes(large));  // the sweep would re-read the image per block
  test::IsaScope scalar(runtime::IsaLevel::kScalar);
  CHECK_FALSE(runtime::choose_position_lanes(shape(11, false)));  // no lanes at all
}

namespace {

// digits-cnn's shape: x [N, 1, 8, 8] -> Conv(c1 maps, pads 1) -> Relu -> [DynamicQuantizeLinear
// -> DequantizeLinear] -> Conv(c2 maps, pads 1) -> Relu -> MaxPool 2x2 -> Flatten -> y.
rewrite_test::Builder digits_like(int64_t c1, int64_t c2, bool fake_quant) {
  rewrite_test::Builder b;
  b.input("x", {-1, 1, 8, 8});
  b.output("y");
  b.init("w1", random_tensor({c1, 1, 3, 3}, 61));
  b.init("b1", random_tensor({c1}, 62));
  b.init("w2", random_tensor({c2, c1, 3, 3}, 63));
  b.init("b2", random_tensor({c2}, 64));
  b.node("Conv", {"x", "w1", "b1"}, {"c1"}, {ints_attr("pads", {1, 1, 1, 1})});
  b.node("Relu", {"c1"}, {"r1"});
  std::string m = "r1";
  if (fake_quant) {
    b.node("DynamicQuantizeLinear", {"r1"}, {"q", "s", "z"});
    b.node("DequantizeLinear", {"q", "s", "z"}, {"dq"});
    m = "dq";
  }
  b.node("Conv", {m, "w2", "b2"}, {"c2"}, {ints_attr("pads", {1, 1, 1, 1})});
  b.node("Relu", {"c2"}, {"r2"});
  b.node("MaxPool", {"r2"}, {"p"}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})});
  b.node("Flatten", {"p"}, {"y"});
  return b;
}

// The fused graph's convs as (x_channels_last, y_channels_last), after checking its outputs
// against the unfused interpreter's (equal floats up to the packed Conv's summation order).
std::vector<std::pair<int64_t, int64_t>> fused_convs(const ir::Model& model, std::map<std::string, int>& ops) {
  const Tensor x = random_tensor({5, 1, 8, 8}, 65);
  runtime::InterpreterOptions plain_options, fused_options;
  plain_options.fuse_float = false;
  fused_options.fuse_float = true;
  auto plain = runtime::Interpreter::create(model, plain_options);
  auto fused = runtime::Interpreter::create(model, fused_options);
  REQUIRE(plain.ok());
  REQUIRE_MESSAGE(fused.ok(), fused.status().message());
  auto want = (*plain)->run({{"x", x}});
  auto got = (*fused)->run({{"x", x}});
  REQUIRE(want.ok());
  REQUIRE_MESSAGE(got.ok(), got.status().message());
  check_close((*got)[0], (*want)[0].shape(), to_doubles(floats_of((*want)[0])), 1e-5, 1e-5);
  std::vector<std::pair<int64_t, int64_t>> convs;
  for (const auto& n : (*fused)->model().graph.nodes) {
    ++ops[n.op_type];
    if (n.op_type == runtime::fused::kConvChannelsLast) convs.emplace_back(n.attr_int("x_channels_last", 0), n.attr_int("y_channels_last", 0));
  }
  return convs;
}

}  // namespace

TEST_CASE("position lanes: the load-time rewrite keeps planes around narrow convs, channels-last around wide ones") {
  test::IsaScope isa(runtime::IsaLevel::kAvx512);
  if (runtime::isa_level() != runtime::IsaLevel::kAvx512) {
    MESSAGE("EMBER-SKIP: no AVX-512 on this CPU");
    return;
  }
  for (bool fake_quant : {false, true}) {
    INFO("fake quantization between the convs: " << fake_quant);
    std::map<std::string, int> ops;
    // Pruned (13, 11): both convs on planes, Relus and the MaxPool in their epilogues.
    auto convs = fused_convs(digits_like(13, 11, fake_quant).model, ops);
    CHECK(convs == std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 0}});
    CHECK(ops.count("Relu") == 0);
    CHECK(ops.count("MaxPool") == 0);
    CHECK(ops.count("Conv") == 0);
    // Unpruned (16, 32): whole vectors of channels, channels-last between the convs as before.
    ops.clear();
    convs = fused_convs(digits_like(16, 32, fake_quant).model, ops);
    CHECK(convs == std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, 0}});
    CHECK(ops.count("MaxPool") == 0);
  }
}
