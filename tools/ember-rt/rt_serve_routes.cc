// The HTTP API of ember-rt serve: the Open Inference Protocol (KServe v2) JSON routes,
// Prometheus /metrics and /ember/state. Every error is JSON {"error": "..."} with a 4xx/5xx code.
#include <nlohmann/json.hpp>

#include "deploy/serve_request.h"
#include "tools/ember-rt/rt_serve.h"

namespace ember::rt {
namespace {

using json = nlohmann::json;

void reply(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(deploy::json_body(body), "application/json");
}

void error(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(deploy::error_body(message), "application/json");
}

json state_json(const ServeContext& c) {
  const deploy::SchedulerState s = c.scheduler->state();
  return {{"accepting", s.accepting},
          {"workers", s.workers},
          {"reserved_for_urgent", s.reserved},
          {"active_workers", s.active},
          {"busy_workers", s.busy},
          {"queued", {{"urgent", s.queued[0]}, {"normal", s.queued[1]}, {"low", s.queued[2]}}},
          {"thermal", {{"throttled", s.throttled}, {"sensor", c.thermal_source}, {"low_tier_paused", s.throttled}}},
          {"max_queue_delay_us", s.max_queue_delay_us}};
}

void infer(const httplib::Request& req, httplib::Response& res, ServeContext& c) {
  if (Status known = deploy::check_model_name(req.matches[1], c.model_name); !known.ok()) return error(res, 404, known.message());
  std::optional<std::string> header;
  if (req.has_header(deploy::kPriorityHeader)) header = req.get_header_value(deploy::kPriorityHeader);
  // A full queue named by the header answers 429 before the body is parsed.
  if (header)
    if (auto t = deploy::parse_tier(*header); t.ok() && c.scheduler->queue_full(*t)) {
      c.metrics->rejected(*t, "queue_full");
      return error(res, 429, std::string("the ") + deploy::tier_name(*t) + " queue is full; retry later");
    }
  auto parsed = deploy::decode_infer_call(header, req.body, c.session->interpreter().feed_inputs(), c.config.scheduler.timeout_ms);
  if (!parsed.ok()) return error(res, 400, parsed.status().message());
  const deploy::Tier tier = parsed->tier;
  const int timeout_ms = parsed->timeout_ms;
  auto submitted = c.scheduler->submit(tier, std::move(parsed->feeds), std::chrono::milliseconds(timeout_ms));
  if (submitted.outcome == deploy::SubmitOutcome::kQueueFull)
    return error(res, 429, std::string("the ") + deploy::tier_name(tier) + " queue is full; retry later");
  if (submitted.outcome == deploy::SubmitOutcome::kShuttingDown) return error(res, 503, "the server is shutting down");
  deploy::InferResult r = submitted.result.get();
  if (r.timed_out) return error(res, 504, r.status.message() + " (timeout " + std::to_string(timeout_ms) + " ms)");
  if (!r.status.ok()) return error(res, r.status.code() == StatusCode::kInternal ? 500 : 400, r.status.message());
  const json parameters = {{"priority", deploy::tier_name(tier)}, {"queue_ms", r.queue_seconds * 1000}, {"batch_size", r.batch_size}};
  res.status = 200;
  res.set_content(deploy::infer_response_text(c.model_name, parsed->id, c.session->interpreter().output_names(), r.outputs, parameters),
                  "application/json");
}

}  // namespace

void install_routes(httplib::Server& server, ServeContext& c) {
  server.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) { reply(res, 200, {{"live", true}}); });
  server.Get("/v2/health/ready", [&c](const httplib::Request&, httplib::Response& res) {
    const bool ready = c.scheduler->state().accepting;
    reply(res, ready ? 200 : 503, {{"ready", ready}});
  });
  server.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, {{"name", "ember-rt"}, {"version", EMBER_VERSION}, {"extensions", json::array()}});
  });
  server.Get(R"(/v2/models/([^/]+))", [&c](const httplib::Request& req, httplib::Response& res) {
    if (Status known = deploy::check_model_name(req.matches[1], c.model_name); !known.ok()) return error(res, 404, known.message());
    json meta = deploy::model_metadata(c.model_name, c.session->interpreter().model(), c.session->interpreter().feed_inputs());
    meta["parameters"] = {{"backend", c.session->backend_name()}, {"state", state_json(c)}};
    reply(res, 200, meta);
  });
  server.Get(R"(/v2/models/([^/]+)/ready)", [&c](const httplib::Request& req, httplib::Response& res) {
    if (Status known = deploy::check_model_name(req.matches[1], c.model_name); !known.ok()) return error(res, 404, known.message());
    reply(res, 200, {{"name", c.model_name}, {"ready", c.scheduler->state().accepting}});
  });
  server.Post(R"(/v2/models/([^/]+)/infer)", [&c](const httplib::Request& req, httplib::Response& res) { infer(req, res, c); });
  server.Get("/metrics", [&c](const httplib::Request&, httplib::Response& res) {
    c.metrics->set_energy(c.scheduler->energy());
    const deploy::SchedulerState s = c.scheduler->state();
    c.metrics->set_queue_depths(s.queued, s.busy, s.active);
    res.set_content(c.metrics->prometheus_text(), "text/plain; version=0.0.4");
  });
  server.Get("/ember/state", [&c](const httplib::Request&, httplib::Response& res) { reply(res, 200, state_json(c)); });
  // Before the body is read: a Content-Length over the limit is answered 413 at once (httplib
  // would first read, or wait for, that many bytes) and the connection closed.
  server.set_pre_routing_handler([&c](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Content-Length")) return httplib::Server::HandlerResponse::Unhandled;
    auto bytes = deploy::parse_content_length(req.get_header_value("Content-Length"));
    if (!bytes.ok()) {
      error(res, 400, bytes.status().message());
    } else if (*bytes > c.max_body_bytes) {
      error(res, 413, "the request body is over the size limit (" + std::to_string(*bytes) + " bytes announced, the limit is " +
                          std::to_string(c.max_body_bytes) + ")");
    } else {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string what = res.status == 413   ? "the request body is over the size limit"
                             : res.status == 414 ? "the request's URI is over the length limit"
                             : res.status == 404 ? "no route " + req.method + " " + req.path.substr(0, 128)
                                                 : "bad request";
    error(res, res.status, what);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    error(res, 500, "internal error");
  });
}

}  // namespace ember::rt
