#include "deploy/session.h"

#include <chrono>

#include "deploy/cpu_backend.h"
#include "formats/onnx_load.h"
#include "runtime/parallel.h"

namespace ember::deploy {

Result<std::unique_ptr<Session>> Session::open(const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  const int cores = available_cores();
  int threads = options.threads;
  std::string backend = "cpu";
  if (!options.manifest_path.empty()) {
    EMBER_ASSIGN_OR_RETURN(VerifiedManifest v, verify_manifest(options.manifest_path, options.model_path, options.threads));
    EMBER_TRY(first_failure(v).with_context(options.manifest_path));
    threads = v.threads_used;
    backend = v.backend_used;
    if (v.deployment.power.source == "estimate") s->options_.measure_power = false;
    if (s->options_.sysfs_root.empty()) s->options_.sysfs_root = v.deployment.power.sysfs_root;
    s->verified_ = std::move(v);
  }
  s->threads_ = clamp_threads(threads, cores);
  auto wanted = options.level ? options.level : cpu_backend_level(backend);
  s->level_ = runtime::set_isa_level(wanted ? *wanted : runtime::best_isa_level());
  auto model = formats::load_onnx(options.model_path);
  if (!model.ok()) return model.status();
  if (options.dynamic_batch)
    for (auto& in : model->graph.inputs)
      if (in.has_shape && !in.dims.empty() && in.dims[0].value == 1 && !model->graph.find_initializer(in.name)) in.dims[0] = {-1, "batch"};
  s->source_ = std::make_shared<const ir::Model>(std::move(*model));
  const std::string sysfs = s->options_.sysfs_root.empty() ? "/sys" : s->options_.sysfs_root;
  s->meter_ = std::make_shared<EnergyMeter>(s->options_.measure_power ? find_energy_source(sysfs) : EnergySource{});
  EMBER_TRY(s->build(*s->source_).with_context(options.model_path));
  return s;
}

Status Session::build(const ir::Model& model) {
  runtime::InterpreterOptions io;
  io.threads = threads_;
  io.fuse_float = true;
  EMBER_ASSIGN_OR_RETURN(interp_, create_with_pack_cache(model, options_.model_path, io, options_.pack_cache, &cache_stats_));
  work_ = std::make_unique<WorkEnergy>(interp_->model());
  return Status::Ok();
}

Result<std::unique_ptr<Session>> Session::clone() const {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options_;
  s->verified_ = verified_;
  s->source_ = source_;
  s->meter_ = meter_;
  s->threads_ = threads_;
  s->level_ = level_;
  EMBER_TRY(s->build(*source_));
  return s;
}

Result<std::vector<Tensor>> Session::run(const std::map<std::string, Tensor>& feeds) {
  const bool measured = meter_->measured();
  double before = 0;
  if (measured) {
    auto j = meter_->total_joules();
    if (j.ok()) before = *j;
  }
  const auto start = std::chrono::steady_clock::now();
  auto out = work_->run(*interp_, feeds);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double after = before;
  if (measured) {
    auto j = meter_->total_joules();
    if (j.ok()) after = *j;
  }
  std::lock_guard lock(energy_mutex_);
  seconds_ += elapsed;
  if (!out.ok()) return out;
  ++inferences_;
  estimated_microjoules_ += work_->microjoules(feeds);
  measured_joules_ += after - before;
  return out;
}

Result<std::vector<Value>> Session::run_values(const std::map<std::string, Value>& feeds) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, v] : feeds)
    if (v.is_tensor()) tensors[name] = v.tensor();
  bool tensor_outputs = true;
  for (const auto& out : interp_->model().graph.outputs)  // an untyped output may be a sequence
    tensor_outputs = tensor_outputs && out.is_tensor && out.elem_type != DType::kUndefined;
  if (tensors.size() == feeds.size() && tensor_outputs) {  // the common case keeps its energy estimate
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> out, run(tensors));
    return std::vector<Value>(out.begin(), out.end());
  }
  const bool measured = meter_->measured();
  double before = 0, after = 0;
  if (measured)
    if (auto j = meter_->total_joules(); j.ok()) before = after = *j;
  const auto start = std::chrono::steady_clock::now();
  auto out = interp_->run_values(feeds);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (measured)
    if (auto j = meter_->total_joules(); j.ok()) after = *j;
  std::lock_guard lock(energy_mutex_);
  seconds_ += elapsed;
  if (!out.ok()) return out;
  ++inferences_;
  measured_joules_ += after - before;
  return out;
}

EnergyReport Session::energy() const {
  std::lock_guard lock(energy_mutex_);
  EnergyReport r;
  r.seconds = seconds_;
  r.inferences = inferences_;
  r.measured = meter_->measured();
  r.joules = r.measured ? measured_joules_ : estimated_microjoules_ * 1e-6;
  r.source = r.measured ? meter_->source().description : "energy-model";
  return r;
}

std::string Session::backend_name() const { return cpu_backend_name(level_); }

}  // namespace ember::deploy
