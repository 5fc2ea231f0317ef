// What ember-rt serve reads from an HTTP request, as pure functions of the request's parts (no
// sockets), so that they are unit-tested and fuzzed (fuzz/targets/serve_request.cc):
//   - the Content-Length header, before the body is read;
//   - the model name of the path (/v2/models/{name}/...; httplib has percent-decoded it, so it
//     may hold any bytes): another name is 404;
//   - the X-Ember-Priority header and the KServe v2 JSON body (deploy/kserve.h): 400 when bad;
//   - the JSON answers: every refusal is {"error": "..."}; JSON is printed with invalid UTF-8
//     replaced and messages clipped, so answering can never throw.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deploy/deployment_config.h"
#include "deploy/kserve.h"

namespace ember::deploy {

inline constexpr const char* kPriorityHeader = "X-Ember-Priority";

// An inference request, decoded: what the scheduler needs.
struct InferCall {
  std::string id;
  Tier tier = Tier::kNormal;
  int timeout_ms = 0;
  Feeds feeds;
};

// A Content-Length header's byte count, read before the body is (so that a count over the
// limit is answered 413 at once, instead of after reading, or waiting for, that many bytes);
// invalid_input when it is not a decimal count (HTTP 400).
Result<uint64_t> parse_content_length(const std::string& value);
// ok when `requested` names the model served; else invalid_input naming it (HTTP 404).
Status check_model_name(const std::string& requested, const std::string& served);
// The X-Ember-Priority header's tier; invalid_input naming the value (HTTP 400).
Result<Tier> header_priority(const std::string& value);
// The body against the model's inputs. The tier is the body's "priority" parameter, else the
// header's, else normal; the deadline the body's "timeout_ms", else `default_timeout_ms`.
Result<InferCall> decode_infer_call(const std::optional<std::string>& priority_header, const std::string& body,
                                    const std::vector<const ir::ValueInfo*>& inputs, int default_timeout_ms);

// {"error": message} as text; the message is clipped to 1000 bytes.
std::string error_body(const std::string& message);
// `value` as compact JSON text, invalid UTF-8 replaced by U+FFFD (never throws).
std::string json_body(const nlohmann::json& value);

}  // namespace ember::deploy
