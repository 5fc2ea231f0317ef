// The Open Inference Protocol's JSON: requests checked against the model's inputs, each bad
// request an error naming the input, and the response and metadata shapes.
#include <doctest/doctest.h>

#include "deploy/kserve.h"

namespace ember::deploy {
namespace {

ir::ValueInfo ids_input() {
  ir::ValueInfo v;
  v.name = "input_ids";
  v.elem_type = DType::kI64;
  v.has_shape = true;
  v.dims = {{-1, "batch"}, {-1, "seq"}};
  return v;
}

TEST_CASE("kserve: a good request parses, with priority and timeout parameters") {
  const ir::ValueInfo in = ids_input();
  auto r = parse_infer_request(
      R"({"id": "a", "parameters": {"priority": "urgent", "timeout_ms": 50},
          "inputs": [{"name": "input_ids", "shape": [1, 3], "datatype": "INT64", "data": [1, 2, 3]}]})",
      {&in});
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->id == "a");
  CHECK(*r->priority == Tier::kUrgent);
  CHECK(*r->timeout_ms == 50);
  CHECK(r->feeds.at("input_ids").shape() == Shape{1, 3});
  CHECK(r->feeds.at("input_ids").data<int64_t>()[2] == 3);
  auto j = infer_response("m", "a", {"out"}, {Tensor::from_vector<float>({1, 2}, {0.5f, 1.5f})});
  CHECK(j["outputs"][0]["datatype"] == "FP32");
  CHECK(j["outputs"][0]["shape"] == nlohmann::json::array({1, 2}));
  CHECK(j["id"] == "a");
}

TEST_CASE("kserve: each bad request is an error naming what is wrong") {
  const ir::ValueInfo in = ids_input();
  const std::vector<const ir::ValueInfo*> inputs = {&in};
  auto message = [&](const std::string& body) {
    auto r = parse_infer_request(body, inputs);
    REQUIRE(!r.ok());
    return r.status().message();
  };
  CHECK(message("{not json").find("not valid JSON") != std::string::npos);
  CHECK(message("[]").find("object") != std::string::npos);
  CHECK(message(R"({"inputs": []})").find("'input_ids' is missing") != std::string::npos);
  CHECK(message(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1]}]})").find("'x'") != std::string::npos);
  CHECK(message(R"({"inputs": [{"name": "input_ids", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]})").find("INT64") !=
        std::string::npos);
  CHECK(message(R"({"inputs": [{"name": "input_ids", "shape": [1, 3], "datatype": "INT64", "data": [1, 2]}]})").find("2 data elements") !=
        std::string::npos);
  CHECK(message(R"({"inputs": [{"name": "input_ids", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]}]})").find("does not fit") !=
        std::string::npos);
  CHECK(message(R"({"inputs": [{"name": "input_ids", "shape": [1, 99999999999], "datatype": "INT64", "data": []}]})")
            .find("bad shape") != std::string::npos);
  CHECK(message(R"({"inputs": [{"name": "input_ids", "shape": [1, 1], "datatype": "INT64", "data": [1.5]}]})").find("not an integer") !=
        std::string::npos);
  CHECK(message(R"({"parameters": {"priority": "asap"}, "inputs": []})").find("asap") != std::string::npos);
  CHECK(message(R"({"parameters": {"timeout_ms": 0}, "inputs": []})").find("timeout_ms") != std::string::npos);
}

TEST_CASE("kserve: float inputs out of the float range are refused") {
  ir::ValueInfo in;
  in.name = "x";
  in.elem_type = DType::kF32;
  auto r = parse_infer_request(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1e300]}]})", {&in});
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("out of range") != std::string::npos);
}

}  // namespace
}  // namespace ember::deploy
