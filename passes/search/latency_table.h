// The latency lookup table of the search: seconds per inference of one layer shape under one
// action, measured once with Ember's own kernels on this CPU (layer_timing.h), as the pruning
// searches of Kwon et al. and ZipLM do. Keys name everything the time depends on (the CPU's
// ISA level, the thread count, the reader ops with their input shapes, the precision), so one
// file can serve many models and machines: a key measured elsewhere is simply never looked up.
//
// A latency target makes the chosen model depend on measured timings. `--latency-table FILE`
// records them: a run with a complete table measures nothing, so it gives the same model again.
//
// File (JSON): {"format": "ember.latency-table/1", "entries": {"<key>": seconds, ...}}
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "ir/status.h"

namespace ember::passes {

class LatencyTable {
 public:
  // A missing file is an empty table; a file that is not a table is invalid input.
  static Result<LatencyTable> load(const std::string& path);
  static Result<LatencyTable> parse(const std::string& text, const std::string& source_name);
  std::string to_json() const;
  Status save(const std::string& path) const;  // atomically

  // A lookup; counts as a reuse when found.
  std::optional<double> find(const std::string& key);
  void add(const std::string& key, double seconds);  // counts as a measurement

  const std::map<std::string, double>& entries() const { return entries_; }
  int64_t measured() const { return measured_; }
  int64_t reused() const { return reused_; }

 private:
  std::map<std::string, double> entries_;
  int64_t measured_ = 0, reused_ = 0;
};

// SHA-256 of the canonical JSON of `entries` (the manifest names the timings a model was chosen by).
std::string latency_entries_digest(const std::map<std::string, double>& entries);

}  // namespace ember::passes
