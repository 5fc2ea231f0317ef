#include "deploy/serve_request.h"

namespace ember::deploy {

Result<uint64_t> parse_content_length(const std::string& value) {
  const bool digits = !value.empty() && value.size() <= 19 && value.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return invalid_input("Content-Length '" + value.substr(0, 32) + "' is not a byte count");
  return uint64_t{std::stoull(value)};
}

Status check_model_name(const std::string& requested, const std::string& served) {
  if (requested == served) return Status::Ok();
  return invalid_input("unknown model '" + requested.substr(0, 128) + "' (this server serves '" + served + "')");
}

Result<Tier> header_priority(const std::string& value) {
  auto tier = parse_tier(value);
  if (!tier.ok()) return tier.status().with_context(std::string("header ") + kPriorityHeader);
  return *tier;
}

Result<InferCall> decode_infer_call(const std::optional<std::string>& priority_header, const std::string& body,
                                    const std::vector<const ir::ValueInfo*>& inputs, int default_timeout_ms) {
  EMBER_ASSIGN_OR_RETURN(InferRequest request, parse_infer_request(body, inputs));
  InferCall call;
  call.id = std::move(request.id);
  call.feeds = std::move(request.feeds);
  if (priority_header) {
    EMBER_ASSIGN_OR_RETURN(call.tier, header_priority(*priority_header));
  }
  if (request.priority) call.tier = *request.priority;
  call.timeout_ms = request.timeout_ms.value_or(default_timeout_ms);
  return call;
}

std::string error_body(const std::string& message) {
  constexpr size_t kMaxMessage = 1000;
  return json_body({{"error", message.size() > kMaxMessage ? message.substr(0, kMaxMessage) + "..." : message}});
}

std::string json_body(const nlohmann::json& value) { return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace ember::deploy
