// The Open Inference Protocol's JSON: requests checked against the model's inputs, each bad
// request an error naming the input, and the response and metadata shapes; the HTTP-level
// decoding of ember-rt serve (deploy/serve_request.h) and its answers, which never throw.
#include <doctest/doctest.h>

#include <cmath>

#include "deploy/kserve.h"
#include "deploy/serve_request.h"

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

TEST_CASE("kserve: the response text carries each float exactly, non-finite ones as null") {
  const std::vector<float> values = {0.1f, -3.4028235e38f, 1e-45f, 123456.789f, std::nanf(""), 2.5f};
  const std::string text = infer_response_text("m", "", {"out", "ids"},
                                               {Tensor::from_vector<float>({2, 3}, values), Tensor::from_vector<int64_t>({2}, {-7, 9})},
                                               {{"batch_size", 3}});
  const auto j = nlohmann::json::parse(text);
  CHECK(!j.contains("id"));
  CHECK(j["parameters"]["batch_size"] == 3);
  CHECK(j["outputs"][0]["shape"] == nlohmann::json::array({2, 3}));
  const auto& data = j["outputs"][0]["data"];
  REQUIRE(data.size() == values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) CHECK(data[i].is_null());
    else CHECK(static_cast<float>(data[i].get<double>()) == values[i]);
  }
  CHECK(j["outputs"][1]["datatype"] == "INT64");
  CHECK(j["outputs"][1]["data"] == nlohmann::json::array({-7, 9}));
  CHECK(text.find("0.1,") != std::string::npos);  // the shortest text, not 0.10000000149011612
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

TEST_CASE("serve request: the tier comes from the body, else the header, else normal, and bad ones name the value") {
  const ir::ValueInfo in = ids_input();
  const std::string body = R"({"inputs": [{"name": "input_ids", "shape": [1, 1], "datatype": "INT64", "data": [4]}]})";
  auto plain = decode_infer_call(std::nullopt, body, {&in}, 1234);
  REQUIRE_MESSAGE(plain.ok(), plain.status().message());
  CHECK(plain->tier == Tier::kNormal);
  CHECK(plain->timeout_ms == 1234);
  auto header = decode_infer_call(std::string("urgent"), body, {&in}, 1234);
  REQUIRE(header.ok());
  CHECK(header->tier == Tier::kUrgent);
  const std::string low = R"({"parameters": {"priority": "low", "timeout_ms": 9}, "inputs": [{"name": "input_ids", "shape": [1, 1], "datatype": "INT64", "data": [4]}]})";
  auto body_wins = decode_infer_call(std::string("urgent"), low, {&in}, 1234);
  REQUIRE(body_wins.ok());
  CHECK(body_wins->tier == Tier::kLow);
  CHECK(body_wins->timeout_ms == 9);
  CHECK(decode_infer_call(std::string("asap"), body, {&in}, 1).status().message().find("header X-Ember-Priority: priority 'asap'") !=
        std::string::npos);
  CHECK(check_model_name("digits", "digits").ok());
  CHECK(check_model_name("other", "digits").message().find("unknown model 'other'") != std::string::npos);
}

TEST_CASE("serve request: hostile bodies are errors, and every answer is JSON") {
  const ir::ValueInfo in = ids_input();
  ir::ValueInfo scalar;
  scalar.name = "s";
  scalar.elem_type = DType::kI64;
  auto message = [&](const std::string& body) {
    auto r = decode_infer_call(std::nullopt, body, {&in}, 1);
    REQUIRE(!r.ok());
    return r.status().message();
  };
  CHECK(message(std::string(100000, '[')).find("nests deeper") != std::string::npos);
  // An unsigned value above INT64_MAX would wrap to -1.
  CHECK(message(R"({"inputs": [{"name": "input_ids", "shape": [1, 1], "datatype": "INT64", "data": [18446744073709551615]}]})")
            .find("out of range") != std::string::npos);
  // A huge shape in the message is clipped.
  std::string dims = "[1";
  for (int i = 0; i < 5000; ++i) dims += ",0";
  CHECK(message(R"({"inputs": [{"name": "input_ids", "datatype": "INT64", "data": [], "shape": )" + dims + "]}]}").size() < 400);
  // A scalar input has no batch dimension to compare.
  auto s = decode_infer_call(std::nullopt, R"({"inputs": [{"name": "s", "shape": [], "datatype": "INT64", "data": [3]}]})", {&scalar}, 1);
  REQUIRE_MESSAGE(s.ok(), s.status().message());
  CHECK(s->feeds.at("s").data<int64_t>()[0] == 3);
  // Invalid UTF-8 (a percent-decoded path) and long messages still give a JSON answer.
  const std::string answer = error_body(check_model_name(std::string("\xff\xfe") + std::string(5000, 'x'), "m").message());
  const auto parsed = nlohmann::json::parse(answer, nullptr, false);
  REQUIRE(!parsed.is_discarded());
  CHECK(parsed["error"].get<std::string>().size() < 1100);
  CHECK(json_body({{"name", std::string("\xc3")}}).find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
}

}  // namespace
}  // namespace ember::deploy
