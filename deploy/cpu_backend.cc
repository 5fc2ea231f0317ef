#include "deploy/cpu_backend.h"

#include <cstring>
#include <map>
#include <memory>

#include "deploy/c_status.h"
#include "deploy/session.h"

namespace ember::deploy {
namespace {

using runtime::IsaLevel;

struct CpuHandle {
  std::unique_ptr<Session> session;
  std::vector<Tensor> outputs;
  std::vector<std::string> names;
  std::vector<ember_rt_tensor> views;
};

Result<Tensor> tensor_from_c(const ember_rt_tensor& t, size_t index) {
  const std::string where = "input " + std::to_string(index) + (t.name ? " ('" + std::string(t.name) + "')" : "");
  if (!t.name) return invalid_input(where + " has no name");
  const DTypeTraits* tr = find_dtype_traits(static_cast<int32_t>(t.dtype));
  if (!tr || tr->bits == 0) return invalid_input(where + ": unsupported dtype code " + std::to_string(static_cast<int>(t.dtype)));
  if (t.rank < 0 || t.rank > EMBER_RT_MAX_RANK) return invalid_input(where + ": rank " + std::to_string(t.rank) + " is out of range");
  Shape shape(t.shape, t.shape + t.rank);
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > (int64_t{1} << 40)) return invalid_input(where + ": bad dimension " + std::to_string(d));
    if (d != 0 && numel > (int64_t{1} << 40) / d) return invalid_input(where + ": too many elements");
    numel *= d;
  }
  if (storage_bytes(tr->dtype, numel) != t.bytes)
    return invalid_input(where + ": " + std::to_string(t.bytes) + " bytes given, the shape " + shape_to_string(shape) + " needs " +
                         std::to_string(storage_bytes(tr->dtype, numel)));
  if (t.bytes > 0 && !t.data) return invalid_input(where + ": data is NULL");
  Tensor out = Tensor::zeros(tr->dtype, shape);
  if (t.bytes) std::memcpy(out.raw_mutable(), t.data, t.bytes);
  return out;
}

template <IsaLevel L>
int is_available() {
  return runtime::isa_supported(L) ? 1 : 0;
}

// level empty: the manifest's backend, else the best level here.
ember_rt_status init_at(std::optional<IsaLevel> level, const ember_rt_config* config, void** handle) {
  if (!config || !handle || !config->model_path) return c_error(EMBER_RT_INVALID_INPUT, "init: config, model_path and handle are required");
  if (level && !runtime::isa_supported(*level))
    return c_error(EMBER_RT_UNAVAILABLE, cpu_backend_name(*level) + " is not available: this CPU offers " +
                                             std::string(runtime::isa_name(runtime::best_isa_level())));
  SessionOptions o;
  o.model_path = config->model_path;
  if (config->manifest_path) o.manifest_path = config->manifest_path;
  o.threads = config->threads;
  if (config->sysfs_root) o.sysfs_root = config->sysfs_root;
  o.level = level;
  auto session = Session::open(o);
  if (!session.ok()) return to_c_status(session.status());
  auto h = std::make_unique<CpuHandle>();
  h->session = std::move(*session);
  *handle = h.release();
  return EMBER_RT_OK;
}

template <IsaLevel L>
ember_rt_status init(const ember_rt_config* config, void** handle) {
  return init_at(L, config, handle);
}

ember_rt_status init_best(const ember_rt_config* config, void** handle) {
  return init_at(std::nullopt, config, handle);
}

int always_available() { return 1; }

ember_rt_status execute(void* handle, const ember_rt_tensor* inputs, size_t n_inputs, const ember_rt_tensor** outputs, size_t* n_outputs) {
  if (!handle || !outputs || !n_outputs || (n_inputs && !inputs)) return c_error(EMBER_RT_INVALID_INPUT, "execute: NULL argument");
  auto* h = static_cast<CpuHandle*>(handle);
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < n_inputs; ++i) {
    auto t = tensor_from_c(inputs[i], i);
    if (!t.ok()) return to_c_status(t.status());
    feeds[inputs[i].name] = std::move(*t);
  }
  auto out = h->session->run(feeds);
  if (!out.ok()) return to_c_status(out.status());
  h->outputs = std::move(*out);
  h->names = h->session->interpreter().output_names();
  h->views.assign(h->outputs.size(), ember_rt_tensor{});
  for (size_t i = 0; i < h->outputs.size(); ++i) {
    const Tensor& t = h->outputs[i];
    ember_rt_tensor& v = h->views[i];
    if (t.rank() > EMBER_RT_MAX_RANK) return c_error(EMBER_RT_INTERNAL, "output " + h->names[i] + " has rank above 8");
    v.name = h->names[i].c_str();
    v.dtype = static_cast<ember_rt_dtype>(static_cast<int>(t.dtype()));
    v.rank = t.rank();
    for (int d = 0; d < t.rank(); ++d) v.shape[d] = t.dim(d);
    v.data = t.raw();
    v.bytes = t.nbytes();
  }
  *outputs = h->views.data();
  *n_outputs = h->views.size();
  return EMBER_RT_OK;
}

void deinit(void* handle) { delete static_cast<CpuHandle*>(handle); }

ember_rt_status get_power(void* handle, ember_rt_power* power) {
  if (!handle || !power) return c_error(EMBER_RT_INVALID_INPUT, "get_power_consumption: NULL argument");
  const EnergyReport r = static_cast<CpuHandle*>(handle)->session->energy();
  *power = ember_rt_power{};
  power->joules = r.joules;
  power->seconds = r.seconds;
  power->average_watts = r.average_watts();
  power->inferences = r.inferences;
  power->measured = r.measured ? 1 : 0;
  std::strncpy(power->source, r.source.c_str(), sizeof(power->source) - 1);
  return EMBER_RT_OK;
}

}  // namespace

std::optional<IsaLevel> cpu_backend_level(std::string_view name) {
  if (name == "cpu") return runtime::best_isa_level();
  if (name.substr(0, 4) != "cpu-") return std::nullopt;
  return runtime::parse_isa_name(name.substr(4));
}

std::string cpu_backend_name(IsaLevel level) { return "cpu-" + std::string(runtime::isa_name(level)); }

std::vector<ember_rt_backend> cpu_backends() {
  return {
      {"cpu", always_available, init_best, execute, deinit, get_power},
      {"cpu-scalar", is_available<IsaLevel::kScalar>, init<IsaLevel::kScalar>, execute, deinit, get_power},
      {"cpu-avx2", is_available<IsaLevel::kAvx2>, init<IsaLevel::kAvx2>, execute, deinit, get_power},
      {"cpu-avxvnni", is_available<IsaLevel::kAvxVnni>, init<IsaLevel::kAvxVnni>, execute, deinit, get_power},
      {"cpu-avx512", is_available<IsaLevel::kAvx512>, init<IsaLevel::kAvx512>, execute, deinit, get_power},
  };
}

}  // namespace ember::deploy
