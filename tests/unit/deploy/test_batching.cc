// Dynamic batching's tensor work, and a batched run of a real model giving each request the
// outputs it gets alone.
#include <doctest/doctest.h>

#include "deploy/batching.h"
#include "deploy/session.h"

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

Result<std::unique_ptr<Session>> open_sample(const std::string& file) {
  SessionOptions o;
  o.model_path = std::string(EMBER_SOURCE_DIR) + "/samples/" + file;
  o.threads = 1;
  o.dynamic_batch = true;
  o.measure_power = false;
  return Session::open(o);
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

}  // namespace
}  // namespace ember::deploy
