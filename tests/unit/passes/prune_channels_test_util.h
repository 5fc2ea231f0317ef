// Helpers for the convolution channel pruning tests (test_prune_channels.cc, test_prune_concat.cc):
// image models built in code, a calibration file of random images, the groups found, the
// pipeline run and the output error against another model.
#pragma once
#include <doctest/doctest.h>

#include "passes/prune/conv_groups.h"
#include "tests/unit/passes/activation_test_util.h"

namespace ember::chan_test {

using namespace ember::act_test;
using test::floats_of;
using test::ints_attr;

constexpr int64_t kSide = 6;

inline ir::Model image_model(int64_t channels) {
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {-1, channels, kSide, kSide}));
  return m;
}

inline void conv(ir::Model& m, Rng& rng, const std::string& name, const std::string& in, const std::string& out, int64_t outc,
                 int64_t inc, int64_t k, bool bias, int64_t group = 1, double sigma = 0.4) {
  add_initializer(m, name + ".w", Tensor::from_vector<float>({outc, inc, k, k}, normals(rng, size_t(outc * inc * k * k), sigma)));
  std::vector<std::string> inputs = {in, name + ".w"};
  if (bias) {
    add_initializer(m, name + ".b", Tensor::from_vector<float>({outc}, normals(rng, size_t(outc), 0.3)));
    inputs.push_back(name + ".b");
  }
  const int64_t p = k / 2;
  m.graph.nodes.push_back(node("Conv", name, inputs, {out}, {ints_attr("pads", {p, p, p, p}), int_attr("group", group)}));
}

inline Tensor images(uint64_t seed, int64_t rows, int64_t channels) {
  Rng rng(seed);
  return Tensor::from_vector<float>({rows, channels, kSide, kSide}, normals(rng, size_t(rows * channels * kSide * kSide), 1.0));
}

inline calibration::CalibrationSet image_calibration(const ScratchDir& dir, const ir::Model& m, int64_t channels) {
  const std::string path = dir.file("calib.npy");
  REQUIRE(formats::write_npy(path, images(99, 64, channels)).ok());
  calibration::CalibrationOptions o;
  o.batch = 16;
  auto set = calibration::CalibrationSet::open(path, m.graph.feed_inputs(), o);
  REQUIRE(set.ok());
  return std::move(*set);
}

inline passes::prune::ChannelGroups groups_of(const ir::Model& m, int64_t channels) {
  auto shapes = passes::prune::observe_shapes(m, {{"x", images(1, 2, channels)}});
  REQUIRE(shapes.ok());
  return passes::prune::find_channel_groups(m.graph, [&](const std::string& v) -> std::optional<std::vector<int64_t>> {
    auto it = shapes->find(v);
    if (it == shapes->end()) return std::nullopt;
    return it->second;
  });
}

inline Shape shape_of(const ir::Model& m, const std::string& name) { return m.graph.find_initializer(name)->shape(); }

// Prunes with `options`; returns the pruned model (the test fails on error).
inline ir::Model pruned(const ir::Model& original, int64_t channels, const std::string& options) {
  ScratchDir dir("prune_channels");
  ir::Model m = original;
  auto calib = image_calibration(dir, m, channels);
  const Status s = run_pipeline(m, "prune-structured{" + options + "}", &calib);
  if (!s.ok()) FAIL(s.message());
  return m;
}

inline double output_error(const ir::Model& a, const ir::Model& b, int64_t channels) {
  const Tensor x = images(5, 8, channels);
  return relative_error(run(a, {{"x", x}})[0], run(b, {{"x", x}})[0]);
}

}  // namespace ember::chan_test
