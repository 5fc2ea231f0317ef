// Dynamic batching's tensor work, and a batched run of a real model giving each request the
// outputs it gets alone: digits-cnn as exported, kjv-gpt2-tiny after the free-batch pass (its
// export fixes the batch to 1, which the scheduler detects and stops batching).
#include <doctest/doctest.h>

#include "deploy/batching.h"
#include "deploy/scheduler.h"
#include "deploy/session.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "passes/batch/free_batch.h"
#include "tests/unit/deploy/deploy_test_util.h"

namespace ember::deploy {
namespace {

Feeds ids(std::vector<int64_t> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return {{"input_ids", Tensor::from_vector<int64_t>({1, n}, values)}};
}

TEST_CASE("batching: compatible requests concatenate along dim 0 and split back") {
  const Feeds a = ids({1, 2, 3}), b = ids({4, 5, 6}), c = ids({7, 8});
  CHECK(batch_signature(a) == batch_signature(b));
  CHECK(batch_signature(a) != batch_signature(c));
  auto joined = concat_batch({&a, &b});
  REQUIRE(joined.ok());
  const Tensor& t = joined->at("input_ids");
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.data<int64_t>()[3] == 4);
  auto parts = split_batch({t}, {1, 1});
  REQUIRE(parts.ok());
  CHECK((*parts)[1][0].data<int64_t>()[2] == 6);
  CHECK(!split_batch({t}, {1, 2}).ok());  // 3 rows asked of a 2-row output
}

Result<std::unique_ptr<Session>> open_model(const std::string& path) {
  SessionOptions o;
  o.model_path = path;
  o.threads = 1;
  o.dynamic_batch = true;
  o.measure_power = false;
  return Session::open(o);
}

Result<std::unique_ptr<Session>> open_sample(const std::string& file) { return open_model(std::string(EMBER_SOURCE_DIR) + "/samples/" + file); }

// samples/kjv-gpt2-tiny.onnx after free-batch, saved under `dir`.
std::string freed_tiny_gpt2(const test::ScratchDir& dir) {
  auto model = formats::load_onnx(std::string(EMBER_SOURCE_DIR) + "/samples/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  REQUIRE(passes::FreeBatch({}).run(*model, ctx).ok());
  const std::string path = (dir.path() / "tiny-free.onnx").string();
  REQUIRE(formats::save_onnx(*model, path).ok());
  return path;
}

// Each request's logits from a batch against its run alone: max |diff| / max |alone|.
double worst_row_diff(const std::vector<Tensor>& batched, const std::vector<Tensor>& alone) {
  double diff = 0, scale = 0;
  for (int64_t k = 0; k < alone[0].numel(); ++k) {
    diff = std::max(diff, static_cast<double>(std::abs(alone[0].data<float>()[k] - batched[0].data<float>()[k])));
    scale = std::max(scale, static_cast<double>(std::abs(alone[0].data<float>()[k])));
  }
  return diff / scale;
}

TEST_CASE("batching: a batch of digits-cnn requests equals each run alone") {
  auto session = open_sample("digits-cnn.onnx");
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  std::vector<float> pixels(64);
  Feeds requests[3];
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 64; ++i) pixels[i] = static_cast<float>((i * (r + 3)) % 17) / 16.0f;
    requests[r] = {{"image", Tensor::from_vector<float>({1, 1, 8, 8}, pixels)}};
  }
  auto joined = concat_batch({&requests[0], &requests[1], &requests[2]});
  REQUIRE(joined.ok());
  auto together = (*session)->run(*joined);
  REQUIRE_MESSAGE(together.ok(), together.status().message());
  auto parts = split_batch(*together, {1, 1, 1});
  REQUIRE_MESSAGE(parts.ok(), parts.status().message());
  for (int r = 0; r < 3; ++r) {
    auto alone = (*session)->run(requests[r]);
    REQUIRE(alone.ok());
    const Tensor& x = (*alone)[0];
    const Tensor& y = (*parts)[r][0];
    REQUIRE(x.shape() == y.shape());
    for (int64_t k = 0; k < x.numel(); ++k) CHECK(std::abs(x.data<float>()[k] - y.data<float>()[k]) < 1e-4f);
  }
}

TEST_CASE("batching: kjv-gpt2-tiny fixes its batch to 1 inside the graph and refuses a batch clearly") {
  auto session = open_sample("kjv-gpt2-tiny.onnx");
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  const Feeds a = ids({72, 101, 108, 108}), b = ids({73, 110, 32, 116});
  auto joined = concat_batch({&a, &b});
  REQUIRE(joined.ok());
  auto together = (*session)->run(*joined);
  REQUIRE(!together.ok());
  CHECK(together.status().message().find("node") != std::string::npos);
}

TEST_CASE("batching: kjv-gpt2-tiny after free-batch runs a batch, each request's logits as alone") {
  test::ScratchDir dir("free-batch");
  auto session = open_model(freed_tiny_gpt2(dir));
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  const Feeds requests[] = {ids({72, 101, 108, 108, 111, 32}), ids({73, 110, 32, 116, 104, 101}), ids({65, 110, 100, 32, 71, 111})};
  auto joined = concat_batch({&requests[0], &requests[1], &requests[2]});
  REQUIRE(joined.ok());
  auto together = (*session)->run(*joined);
  REQUIRE_MESSAGE(together.ok(), together.status().message());
  auto parts = split_batch(*together, {1, 1, 1});
  REQUIRE_MESSAGE(parts.ok(), parts.status().message());
  for (int r = 0; r < 3; ++r) {
    auto alone = (*session)->run(requests[r]);
    REQUIRE(alone.ok());
    REQUIRE((*parts)[r][0].shape() == (*alone)[0].shape());
    CHECK(worst_row_diff((*parts)[r], *alone) <= 1e-5);  // FP32 GEMM blocking: last bits only
  }
}

TEST_CASE("batching: the scheduler batches freed kjv-gpt2-tiny requests and keeps batching") {
  test::ScratchDir dir("free-batch-scheduler");
  auto first = open_model(freed_tiny_gpt2(dir));
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  auto alone = (*first)->run(ids({1, 2, 3, 4, 5, 6, 7, 8}));
  REQUIRE(alone.ok());
  std::vector<std::unique_ptr<Session>> workers;
  workers.push_back(std::move(*first));
  Metrics metrics;
  SchedulerConfig sc;
  sc.urgent_reserved_share = 0;
  sc.max_batch = 4;
  sc.max_queue_delay_us = 200000;  // long enough that the 8 requests below meet in batches
  Scheduler scheduler(sc, ThermalConfig{}, std::move(workers), metrics);
  std::vector<std::future<InferResult>> pending;
  for (int i = 0; i < 8; ++i) pending.push_back(scheduler.submit(Tier::kNormal, ids({1, 2, 3, 4, 5, 6, 7, 8}), std::chrono::seconds(30)).result);
  int batched = 0;
  for (auto& p : pending) {
    InferResult r = p.get();
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    batched += r.batch_size > 1;
    CHECK(worst_row_diff(r.outputs, *alone) <= 1e-5);
  }
  CHECK(batched >= 4);  // at least one batch of several, and batching was not switched off
}

}  // namespace
}  // namespace ember::deploy
