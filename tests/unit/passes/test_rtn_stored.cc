// rtn_stored.h: round to nearest straight from the stored layout gives the same initializers,
// byte for byte, as quantize_rtn on the canonical matrix followed by qdq_tensors (the path it
// replaces), on random matrices of awkward sizes and special values, on every ISA level and
// thread count, and on every weight of the shared real models.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "formats/onnx_load.h"
#include "passes/analysis/layer_model.h"
#include "passes/quantize/rtn_stored.h"
#include "passes/quantize/weight_targets.h"
#include "tests/unit/passes/quantize_test_util.h"
#include "tests/unit/test_support.h"

namespace ember {
namespace {

using passes::analysis::Layer;
using passes::quant::ClipMode;
using passes::quant::QuantFormat;
using qw_test::layer_of;

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  return !a.defined() || a.same_content(b);
}

// Compares the stored path with the canonical one for one weight.
void matches_canonical(const Layer& t, const Tensor& w, int64_t block, QuantFormat f, ClipMode clip) {
  const std::vector<float> canon = passes::analysis::canonical_matrix(t, w);
  const int64_t group = block > 0 ? block : t.reduction;
  const auto q = passes::quant::quantize_rtn(canon.data(), t.channels, t.reduction, group, f, clip);
  const passes::quant::QdqTensors expected = passes::quant::qdq_tensors(t, q);
  const passes::quant::StoredRtn got = passes::quant::quantize_rtn_stored(t, w, block, f, clip);
  const std::string what = t.weight + " " + f.text() + " block " + std::to_string(block) +
                           (clip == ClipMode::kMse ? " mse" : " minmax");
  INFO(what);
  CHECK(got.tensors.group == expected.group);
  CHECK(same_bytes(got.tensors.codes, expected.codes));
  CHECK(same_bytes(got.tensors.scales, expected.scales));
  CHECK(same_bytes(got.tensors.zero_points, expected.zero_points));
  const double reference = passes::quant::relative_error(canon.data(), q);
  if (std::isfinite(reference)) CHECK(got.error == doctest::Approx(reference).epsilon(1e-4));
}

// A weight with the cases that take other branches: a zero channel, a tiny one, an outlier.
Tensor awkward_weight(const Layer& t, uint32_t seed) {
  Tensor w = test::normal_tensor(t.shape, seed, 0.05f);
  float* p = w.mutable_data<float>();
  for (int64_t c = 0; c < t.reduction; ++c) {
    p[t.index(0, c)] = 0.0f;
    if (t.channels > 2) p[t.index(2, c)] = 1e-32f;
  }
  if (t.channels > 1) p[t.index(1, t.reduction / 2)] = 40.0f;
  return w;
}

TEST_CASE("rtn_stored: same bytes as quantize_rtn + qdq_tensors, both layouts, all formats, ISA levels and threads") {
  struct Geometry {
    int64_t channels, reduction;
  };
  const Geometry geometries[] = {{48, 96}, {34, 50}, {16, 128}, {2, 7}, {33, 64}};
  for (runtime::IsaLevel level : test::testable_levels()) {
    test::IsaScope isa(level);
    for (int threads : {1, 2}) {
      test::ThreadsScope scope(threads);
      uint32_t seed = 1;
      for (const Geometry& g : geometries)
        for (bool channels_last : {false, true})
          for (QuantFormat f : {QuantFormat{4, true}, QuantFormat{4, false}, QuantFormat{8, true}, QuantFormat{8, false}})
            for (int64_t block : {int64_t(0), int64_t(32), int64_t(64)})
              for (ClipMode clip : {ClipMode::kNone, ClipMode::kMse}) {
                const Layer t = layer_of("w", g.channels, g.reduction, channels_last);
                const Tensor w = awkward_weight(t, seed++);
                const std::string blocker = passes::quant::rtn_stored_blocker(t, w, f);
                if (!blocker.empty()) {
                  CHECK((f.bits == 4 && channels_last && g.channels % 2 == 1));  // the only refusal
                  continue;
                }
                INFO("isa " << int(level) << " threads " << threads << " " << g.channels << "x" << g.reduction
                            << (channels_last ? " [K, C]" : " [C, K]"));
                matches_canonical(t, w, block, f, clip);
              }
    }
  }
}

TEST_CASE("rtn_stored: non-finite weights take the exact slow steps and still match") {
  for (bool channels_last : {false, true}) {
    const Layer t = layer_of("w", 32, 64, channels_last);
    Tensor w = test::normal_tensor(t.shape, 7, 0.1f);
    w.mutable_data<float>()[t.index(3, 5)] = INFINITY;
    w.mutable_data<float>()[t.index(5, 40)] = NAN;
    w.mutable_data<float>()[t.index(9, 9)] = 3e38f;
    for (QuantFormat f : {QuantFormat{4, true}, QuantFormat{8, true}})
      for (ClipMode clip : {ClipMode::kNone, ClipMode::kMse}) matches_canonical(t, w, f.bits == 4 ? 32 : 0, f, clip);
  }
}

TEST_CASE("rtn_stored: every weight of the shared models, INT4 block 32 with the search and INT8 per channel") {
  const std::string dir = std::string(EMBER_SHARED_DIR) + "/models";
  if (!std::filesystem::exists(dir + "/kjv-gpt2-tiny.onnx")) EMBER_SKIP("../shared/models is absent");
  size_t compared = 0;
  for (const char* name : {"kjv-gpt2-tiny.onnx", "kjv-bert.onnx", "digits-cnn.onnx"}) {
    auto model = formats::load_onnx(dir + "/" + name);
    REQUIRE(model.ok());
    const auto scan = passes::quant::find_weight_targets(model->graph, {});
    for (const Layer& t : scan.targets) {
      const Tensor& w = model->graph.initializers.at(t.weight);
      for (auto [f, block, clip] : {std::tuple{QuantFormat{4, true}, int64_t(32), ClipMode::kMse},
                                    std::tuple{QuantFormat{8, true}, int64_t(0), ClipMode::kNone},
                                    std::tuple{QuantFormat{4, false}, int64_t(32), ClipMode::kMse}}) {
        if (!passes::quant::rtn_stored_blocker(t, w, f).empty()) continue;  // Conv kernels: the canonical path
        matches_canonical(t, w, block, f, clip);
        ++compared;
      }
    }
  }
  MESSAGE("compared " << compared << " weight quantizations");
  CHECK(compared > 30);
}

}  // namespace
}  // namespace ember
