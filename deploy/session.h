// A model opened for deployment on the CPU at one ISA level: the interpreter, the energy it
// uses (measured by an EnergyMeter when the machine has one, else the energy model's estimate
// of the work done) and the time spent. The CPU backends of the HAL wrap one Session per
// handle; ember-rt's commands and the scheduler's workers use it directly.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deploy/manifest_check.h"
#include "deploy/pack_cache.h"
#include "deploy/power.h"
#include "deploy/work_energy.h"
#include "runtime/cpu.h"
#include "runtime/interpreter.h"

namespace ember::deploy {

struct SessionOptions {
  std::string model_path;
  std::string manifest_path;      // empty: no manifest
  int threads = 0;                // <= 0: the manifest's figure, else all cores; clamped
  std::string sysfs_root;         // empty: the manifest's deployment.power.sysfs_root, else /sys
  bool measure_power = true;      // false: always the energy model
  std::optional<runtime::IsaLevel> level;  // empty: the manifest's backend, else the best
  // Inputs declared with a batch dimension of 1 accept any batch (exports often fix it to the
  // example's 1 while the graph computes its shapes): what the scheduler's batching needs.
  bool dynamic_batch = false;
  // Packed weights come from and go to MODEL.ember-pack (pack_cache.h): a start without repacking.
  bool pack_cache = true;
};

struct EnergyReport {
  double joules = 0;
  double seconds = 0;             // time spent in run()
  uint64_t inferences = 0;
  bool measured = false;
  std::string source;             // "rapl:intel-rapl:0", "energy-model"
  double joules_per_inference() const { return inferences ? joules / static_cast<double>(inferences) : 0; }
  double average_watts() const { return seconds > 0 ? joules / seconds : 0; }
};

class Session {
 public:
  // Verifies the manifest when one is given (a failed check is an error), loads the model,
  // selects the ISA level (process-wide: the last session opened sets it) and the threads.
  static Result<std::unique_ptr<Session>> open(const SessionOptions& options);
  // The same model again, sharing nothing mutable (one per scheduler worker).
  Result<std::unique_ptr<Session>> clone() const;

  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor>& feeds);
  // Feeds and outputs of any kind (sequences, optionals: Interpreter::run_values). Timed and
  // metered like run(); the energy model's estimate counts tensor-only runs, through run().
  Result<std::vector<Value>> run_values(const std::map<std::string, Value>& feeds);
  EnergyReport energy() const;
  // The energy model's estimate for one run on feeds of these shapes (0 until seen once).
  double estimated_microjoules(const std::map<std::string, Tensor>& feeds) const { return work_->microjoules(feeds); }

  runtime::Interpreter& interpreter() { return *interp_; }
  const std::optional<VerifiedManifest>& manifest() const { return verified_; }
  int threads() const { return threads_; }
  runtime::IsaLevel level() const { return level_; }
  std::string backend_name() const;
  const PackCacheStats& pack_cache() const { return cache_stats_; }  // what the cache did when this session loaded

 private:
  Session() = default;
  Status build(const ir::Model& model);

  SessionOptions options_;
  std::optional<VerifiedManifest> verified_;
  std::shared_ptr<const ir::Model> source_;
  std::unique_ptr<runtime::Interpreter> interp_;
  std::unique_ptr<WorkEnergy> work_;
  PackCacheStats cache_stats_;
  std::shared_ptr<EnergyMeter> meter_;
  int threads_ = 1;
  runtime::IsaLevel level_ = runtime::IsaLevel::kScalar;
  mutable std::mutex energy_mutex_;  // energy() may be read from another thread
  double measured_joules_ = 0, estimated_microjoules_ = 0, seconds_ = 0;
  uint64_t inferences_ = 0;
};

}  // namespace ember::deploy
