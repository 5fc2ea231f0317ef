// Label-free fidelity metrics (calibration/fidelity.h) against values computed by hand, the
// scoring of several outputs and of shape mismatches, and the held-back split of a
// CalibrationSet.
#include <doctest/doctest.h>

#include <cmath>

#include "calibration/dataset.h"
#include "calibration/fidelity.h"
#include "formats/npy.h"
#include "formats/npz.h"
#include "tests/unit/calibration/calib_test_util.h"

namespace ember::calib_test {
namespace {

using calibration::FidelityMeter;
using calibration::FidelityMetric;

double meter_value(FidelityMetric metric, const std::vector<float>& r, const Shape& rs, const std::vector<float>& c, const Shape& cs) {
  FidelityMeter meter(metric);
  meter.add(r, rs, c, cs);
  return meter.value();
}

// x [1, 2] -> y0 = Identity(x), y1 = Mul(x, k): a model with two float outputs.
ir::Model two_outputs(float k) {
  ir::Model m = empty_model();
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {1, 2}));
  m.graph.outputs.push_back(tensor_info("y0", DType::kF32, {1, 2}));
  m.graph.outputs.push_back(tensor_info("y1", DType::kF32, {1, 2}));
  add_initializer(m, "k", Tensor::from_vector<float>({1}, {k}));
  m.graph.nodes.push_back(node("Identity", "id", {"x"}, {"y0"}));
  m.graph.nodes.push_back(node("Mul", "mul", {"x", "k"}, {"y1"}));
  return m;
}

}  // namespace

TEST_CASE("fidelity: kl of one row by hand, zero for identical and shifted logits") {
  // softmax([0, ln 3]) = [1/4, 3/4], softmax([0, 0]) = [1/2, 1/2]:
  // KL = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812035...
  const float p[] = {0.0f, std::log(3.0f)}, q[] = {0.0f, 0.0f}, q_shifted[] = {5.0f, 5.0f};
  CHECK(calibration::row_kl(p, q, 2) == doctest::Approx(0.25 * std::log(0.5) + 0.75 * std::log(1.5)).epsilon(1e-6));
  CHECK(calibration::row_kl(p, q, 2) == doctest::Approx(0.130812035).epsilon(1e-6));
  CHECK(calibration::row_kl(p, p, 2) == 0.0);
  CHECK(calibration::row_kl(q, q_shifted, 2) == doctest::Approx(0.0).epsilon(1e-12));
  // KL is not symmetric: KL(Q || P) = 1/2 ln 2 + 1/2 ln(2/3) = 0.143841036...
  CHECK(calibration::row_kl(q, p, 2) == doctest::Approx(0.143841036).epsilon(1e-6));
  // The mean over rows: [KL 0.1308, KL 0] -> 0.0654.
  CHECK(meter_value(FidelityMetric::kKl, {0, std::log(3.0f), 1, 2}, {2, 2}, {0, 0, 1, 2}, {2, 2}) ==
        doctest::Approx(0.130812035 / 2).epsilon(1e-6));
}

TEST_CASE("fidelity: top1 agreement counts rows whose argmax agrees, first index on ties") {
  CHECK(calibration::row_argmax(std::vector<float>{1, 3, 3}.data(), 3) == 1);
  CHECK(calibration::row_argmax(std::vector<float>{7, 7}.data(), 2) == 0);
  // Row 0 agrees (index 2), row 1 does not (0 vs 2), row 2 agrees (1): 2 of 3.
  const std::vector<float> r = {1, 2, 3, 3, 2, 1, 0, 5, 1}, c = {0, 0, 9, 1, 2, 3, 2, 4, 3};
  CHECK(meter_value(FidelityMetric::kTop1, r, {3, 3}, c, {3, 3}) == doctest::Approx(2.0 / 3.0));
  CHECK(meter_value(FidelityMetric::kTop1, r, {3, 3}, r, {3, 3}) == 1.0);
}

TEST_CASE("fidelity: sqnr in dB over every element, accumulated over batches, capped when noise-free") {
  // signal 3^2 + 4^2 = 25, noise 0^2 + 0.5^2 = 0.25: 10 log10(100) = 20 dB.
  CHECK(meter_value(FidelityMetric::kSqnr, {3, 4}, {1, 2}, {3, 3.5f}, {1, 2}) == doctest::Approx(20.0));
  CHECK(meter_value(FidelityMetric::kSqnr, {3, 4}, {1, 2}, {3, 4}, {1, 2}) == calibration::kSqnrCapDb);
  // Two batches: signal 25 + 100 = 125, noise 0.25 + 0 = 0.25: 10 log10(500) = 26.9897 dB (not the mean of 20 and 200).
  FidelityMeter meter(FidelityMetric::kSqnr);
  meter.add({3, 4}, {1, 2}, {3, 3.5f}, {1, 2});
  meter.add({6, 8}, {1, 2}, {6, 8}, {1, 2});
  CHECK(meter.value() == doctest::Approx(10 * std::log10(500.0)));
  // A zero reference with noise is the floor.
  CHECK(meter_value(FidelityMetric::kSqnr, {0, 0}, {1, 2}, {1, 0}, {1, 2}) == -calibration::kSqnrCapDb);
}

TEST_CASE("fidelity: cosine per row, averaged, and zero rows are defined") {
  const float a[] = {1, 0}, b[] = {1, 1}, zero[] = {0, 0};
  CHECK(calibration::row_cosine(a, b, 2) == doctest::Approx(std::sqrt(0.5)));
  CHECK(calibration::row_cosine(zero, zero, 2) == 1.0);
  CHECK(calibration::row_cosine(a, zero, 2) == 0.0);
  // Rows [1,0]~[1,1] (0.7071) and [0,2]~[0,5] (1): mean 0.853553.
  CHECK(meter_value(FidelityMetric::kCosine, {1, 0, 0, 2}, {2, 2}, {1, 1, 0, 5}, {2, 2}) ==
        doctest::Approx((std::sqrt(0.5) + 1) / 2));
  // Opposite rows score -1.
  CHECK(meter_value(FidelityMetric::kCosine, {1, 2}, {1, 2}, {-1, -2}, {1, 2}) == doctest::Approx(-1.0));
}

TEST_CASE("fidelity: an output whose shape changed scores as a candidate that knows nothing") {
  const std::vector<float> r = {0, std::log(3.0f)};
  // kl against the uniform distribution: the same 0.1308 as above.
  CHECK(meter_value(FidelityMetric::kKl, r, {1, 2}, {1, 2, 3}, {1, 3}) == doctest::Approx(0.130812035).epsilon(1e-6));
  CHECK(meter_value(FidelityMetric::kTop1, r, {1, 2}, {0, 9, 0}, {1, 3}) == 0.0);
  CHECK(meter_value(FidelityMetric::kCosine, r, {1, 2}, {}, {0}) == 0.0);
  CHECK(meter_value(FidelityMetric::kSqnr, r, {1, 2}, {}, {0}) == doctest::Approx(0.0));
}

TEST_CASE("fidelity: parse names, and the metric's direction") {
  CHECK(calibration::parse_fidelity_metric("kl").ok());
  CHECK(!calibration::parse_fidelity_metric("KL").ok());
  CHECK(!calibration::is_fidelity_metric("accuracy"));
  CHECK(!calibration::higher_is_better(FidelityMetric::kKl));
  CHECK(calibration::higher_is_better(FidelityMetric::kSqnr));
}

TEST_CASE("fidelity: several outputs, the worst one decides, reference captured on held-back rows") {
  ScratchDir dir("fidelity_outputs");
  const std::string path = dir.file("x.npz");
  REQUIRE(formats::write_npz(path, {{"x", Tensor::from_vector<float>({3, 2}, {1, 2, -3, 4, 0.5f, 1})}}).ok());
  ir::Model fp32 = two_outputs(1.0f), candidate = two_outputs(1.5f);
  auto set = calibration::CalibrationSet::open(path, fp32.graph.feed_inputs());
  REQUIRE(set.ok());
  auto fp32_interp = runtime::Interpreter::create(fp32);
  auto cand_interp = runtime::Interpreter::create(candidate);
  REQUIRE((fp32_interp.ok() && cand_interp.ok()));
  auto ref = calibration::capture_reference(**fp32_interp, *set);
  REQUIRE_MESSAGE(ref.ok(), ref.status().message());
  CHECK(ref->rows == 3);
  CHECK(ref->feeds.size() == 3);
  // y0 is exact (200 dB); y1 = 1.5 x has noise (0.5 x)^2 = signal / 4: 10 log10(4) = 6.0206 dB.
  auto sqnr = calibration::measure_fidelity(**cand_interp, *ref, FidelityMetric::kSqnr);
  REQUIRE(sqnr.ok());
  CHECK(*sqnr == doctest::Approx(10 * std::log10(4.0)));
  // A scale keeps every argmax and direction.
  CHECK(*calibration::measure_fidelity(**cand_interp, *ref, FidelityMetric::kTop1) == 1.0);
  CHECK(*calibration::measure_fidelity(**cand_interp, *ref, FidelityMetric::kCosine) == doctest::Approx(1.0));
  CHECK(*calibration::measure_fidelity(**fp32_interp, *ref, FidelityMetric::kKl) == 0.0);
  // Neither output comes from a linear layer nor is named logits: auto picks sqnr.
  CHECK(calibration::auto_fidelity_metric(fp32.graph, *ref) == FidelityMetric::kSqnr);
}

TEST_CASE("fidelity: a metric over rows does not fit one value per row") {
  ScratchDir dir("fidelity_fits");
  const std::string path = dir.file("x.npy");
  REQUIRE(formats::write_npy(path, Tensor::from_vector<float>({2, 1}, {0.5f, -2})).ok());
  ir::Model m = empty_model();  // x [n, 1] -> y = Identity(x): a regression head's shape
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {-1, 1}));
  m.graph.outputs.push_back(tensor_info("score", DType::kF32, {-1, 1}));
  m.graph.nodes.push_back(node("Identity", "id", {"x"}, {"score"}));
  auto set = calibration::CalibrationSet::open(path, m.graph.feed_inputs());
  auto interp = runtime::Interpreter::create(m);
  REQUIRE((set.ok() && interp.ok()));
  auto ref = calibration::capture_reference(**interp, *set);
  REQUIRE(ref.ok());
  for (FidelityMetric metric : {FidelityMetric::kKl, FidelityMetric::kTop1, FidelityMetric::kCosine}) {
    Status fits = calibration::check_metric_fits(metric, *ref);
    REQUIRE(!fits.ok());
    CHECK(fits.message().find("'score'") != std::string::npos);
    CHECK(fits.message().find("sqnr") != std::string::npos);
  }
  CHECK(calibration::check_metric_fits(FidelityMetric::kSqnr, *ref).ok());
  CHECK(calibration::auto_fidelity_metric(m.graph, *ref) == FidelityMetric::kSqnr);
}

TEST_CASE("fidelity: which outputs look like logits") {
  ir::Model m = empty_model();
  m.graph.nodes.push_back(node("Gemm", "head", {"h", "w", "b"}, {"logits_raw"}));
  m.graph.nodes.push_back(node("Reshape", "view", {"logits_raw", "shape"}, {"out"}));
  m.graph.nodes.push_back(node("MatMul", "proj", {"h", "w2"}, {"mm"}));
  m.graph.nodes.push_back(node("Add", "bias", {"mm", "b2"}, {"scores"}));
  m.graph.nodes.push_back(node("Softmax", "sm", {"scores"}, {"probs"}));
  m.graph.nodes.push_back(node("MatMul", "emb", {"h", "w3"}, {"sentence_embedding"}));
  CHECK(calibration::looks_like_logits(m.graph, "out", {1, 10}));           // Gemm through a Reshape
  CHECK(calibration::looks_like_logits(m.graph, "scores", {1, 5, 256}));    // MatMul + bias
  CHECK(!calibration::looks_like_logits(m.graph, "scores", {4, 1}));        // a regression head
  CHECK(!calibration::looks_like_logits(m.graph, "probs", {1, 5}));         // after a Softmax
  CHECK(!calibration::looks_like_logits(m.graph, "sentence_embedding", {1, 384}));  // named an embedding
  CHECK(calibration::looks_like_logits(m.graph, "class_logits", {1, 3}));   // named logits, whatever makes it
}

TEST_CASE("calibration set: the last rows are held back, across files, with their labels") {
  ScratchDir dir("fidelity_split");
  std::vector<float> x(10);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  REQUIRE(formats::write_npz(dir.file("a.npz"), {{"x", Tensor::from_vector<float>({6, 1}, {x.begin(), x.begin() + 6})},
                                                 {"labels", Tensor::from_vector<int64_t>({6}, {0, 1, 2, 3, 4, 5})}}).ok());
  REQUIRE(formats::write_npz(dir.file("b.npz"), {{"x", Tensor::from_vector<float>({4, 1}, {x.begin() + 6, x.end()})},
                                                 {"labels", Tensor::from_vector<int64_t>({4}, {6, 7, 8, 9})}}).ok());
  ir::ValueInfo in = tensor_info("x", DType::kF32, {-1, 1});
  calibration::CalibrationOptions co;
  co.batch = 4;
  auto set = calibration::CalibrationSet::open(dir.file(""), {&in}, co);
  REQUIRE_MESSAGE(set.ok(), set.status().message());
  REQUIRE(set->num_rows() == 10);
  auto split = set->split_last(5);  // rows 5..9: one from a.npz, four from b.npz
  REQUIRE(split.ok());
  CHECK(split->first.num_rows() == 5);
  CHECK(split->last.num_rows() == 5);
  REQUIRE(split->first.held_back() != nullptr);  // whoever calibrates on `first` finds the held-back rows
  CHECK(split->first.held_back()->num_rows() == 5);
  CHECK(split->last.held_back() == nullptr);
  CHECK(set->held_back() == nullptr);
  CHECK(split->first.num_batches() == 2);  // [0..3], [4]
  CHECK(split->last.num_batches() == 2);   // [5] from a.npz, [6..9] from b.npz
  CHECK(test::floats_of(split->last.batch(0).at("x")) == std::vector<float>{5});
  CHECK(test::floats_of(split->last.batch(1).at("x")) == std::vector<float>{6, 7, 8, 9});
  CHECK(split->last.batch_labels(1) == std::vector<int64_t>{6, 7, 8, 9});
  CHECK(test::floats_of(split->first.batch(1).at("x")) == std::vector<float>{4});
  CHECK(split->first.content_hash() != split->last.content_hash());
  CHECK(split->first.content_hash() != set->content_hash());
  // Too few rows to hold any back and keep one for calibration; a non-positive count.
  auto too_many = set->split_last(10);
  REQUIRE(!too_many.ok());
  CHECK(too_many.status().message().find("--holdout-rows") != std::string::npos);
  CHECK(!set->split_last(0).ok());
}

}  // namespace ember::calib_test
