// The C API (ember_rt.h): the backend registry, sessions and the last-error message.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deploy/c_status.h"
#include "deploy/cpu_backend.h"
#include "deploy/ember_rt.h"

namespace ember::deploy {
namespace {

thread_local std::string t_last_error;

struct Registry {
  std::mutex mutex;
  std::vector<ember_rt_backend> backends;  // built-ins first; stable addresses via reserve
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry();
    reg->backends.reserve(64);
    for (const auto& b : cpu_backends()) reg->backends.push_back(b);
    return reg;
  }();
  return *r;
}

}  // namespace

ember_rt_status c_error(ember_rt_status code, const std::string& message) {
  t_last_error = message;
  return code;
}

ember_rt_status to_c_status(const Status& status) {
  if (status.ok()) return EMBER_RT_OK;
  return c_error(status.code() == StatusCode::kInternal ? EMBER_RT_INTERNAL : EMBER_RT_INVALID_INPUT, status.message());
}

}  // namespace ember::deploy

using ember::deploy::c_error;
using ember::deploy::registry;

struct ember_rt_session {
  const ember_rt_backend* backend = nullptr;
  void* handle = nullptr;
};

extern "C" {

ember_rt_status ember_rt_register_backend(const ember_rt_backend* backend) {
  if (!backend || !backend->name || !backend->is_available || !backend->init || !backend->execute || !backend->deinit ||
      !backend->get_power_consumption)
    return c_error(EMBER_RT_INVALID_INPUT, "register_backend: the name and every function are required");
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& b : r.backends)
    if (std::string(b.name) == backend->name)
      return c_error(EMBER_RT_INVALID_INPUT, std::string("a backend named '") + backend->name + "' is already registered");
  if (r.backends.size() == r.backends.capacity()) return c_error(EMBER_RT_INVALID_INPUT, "register_backend: the registry is full");
  r.backends.push_back(*backend);
  return EMBER_RT_OK;
}

const ember_rt_backend* ember_rt_find_backend(const char* name) {
  if (!name) return nullptr;
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& b : r.backends)
    if (std::string(b.name) == name) return &b;
  return nullptr;
}

size_t ember_rt_backend_count(void) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return r.backends.size();
}

const ember_rt_backend* ember_rt_backend_at(size_t index) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return index < r.backends.size() ? &r.backends[index] : nullptr;
}

ember_rt_status ember_rt_session_create(const char* backend, const ember_rt_config* config, ember_rt_session** session) {
  if (!session) return c_error(EMBER_RT_INVALID_INPUT, "session_create: session is NULL");
  *session = nullptr;
  const char* name = backend ? backend : "cpu";
  const ember_rt_backend* b = ember_rt_find_backend(name);
  if (!b) return c_error(EMBER_RT_UNAVAILABLE, std::string("no backend named '") + name + "'");
  if (!b->is_available()) return c_error(EMBER_RT_UNAVAILABLE, std::string("backend '") + name + "' cannot run on this machine");
  void* handle = nullptr;
  const ember_rt_status st = b->init(config, &handle);
  if (st != EMBER_RT_OK) return st;
  *session = new ember_rt_session{b, handle};
  return EMBER_RT_OK;
}

ember_rt_status ember_rt_session_run(ember_rt_session* session, const ember_rt_tensor* inputs, size_t n_inputs,
                                     const ember_rt_tensor** outputs, size_t* n_outputs) {
  if (!session) return c_error(EMBER_RT_INVALID_INPUT, "session_run: session is NULL");
  return session->backend->execute(session->handle, inputs, n_inputs, outputs, n_outputs);
}

ember_rt_status ember_rt_session_power(ember_rt_session* session, ember_rt_power* power) {
  if (!session) return c_error(EMBER_RT_INVALID_INPUT, "session_power: session is NULL");
  return session->backend->get_power_consumption(session->handle, power);
}

const char* ember_rt_session_backend(const ember_rt_session* session) { return session ? session->backend->name : ""; }

void ember_rt_session_destroy(ember_rt_session* session) {
  if (!session) return;
  session->backend->deinit(session->handle);
  delete session;
}

const char* ember_rt_last_error(void) { return ember::deploy::t_last_error.c_str(); }

}  // extern "C"
