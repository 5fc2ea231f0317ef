// PassManager: runs a pipeline, verifies the graph after every pass, drops the cached analyses
// a pass does not preserve, and records each pass's time, statistics (nodes and weight bytes
// before and after, its counters) and typed result.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "passes/pass.h"
#include "passes/pipeline.h"

namespace ember::passes {

struct PassRecord {
  std::string name;
  std::string options;  // canonical "k=v,..." text
  double seconds = 0;
  size_t nodes_before = 0, nodes_after = 0;
  size_t weight_bytes_before = 0, weight_bytes_after = 0;
  std::map<std::string, double> counters;      // what this run of the pass counted in the remarks
  std::shared_ptr<const PassResult> result;    // the pass's typed record, or nullptr
  // The record as JSON; `timing` adds the seconds and the "*-seconds" counters (left out where
  // the output must be deterministic, as in the manifest).
  nlohmann::json to_json(bool timing) const;
};

class PassManager {
 public:
  static Result<PassManager> from_text(const std::string& pipeline_text);
  // From entries built in code (option values may then hold ',' or '}', e.g. regexes).
  static Result<PassManager> from_entries(std::vector<PipelineEntry> entries);
  Status run(ir::Model& model, PassContext& ctx);
  const std::vector<PassRecord>& records() const { return records_; }
  const std::string& pipeline_text() const { return pipeline_text_; }
  // The typed result of the last run of the pass called `name`, when it has that type.
  template <class R>
  std::shared_ptr<const R> last_result(std::string_view name) const {
    for (auto it = records_.rbegin(); it != records_.rend(); ++it)
      if (it->name == name) return std::dynamic_pointer_cast<const R>(it->result);
    return nullptr;
  }

 private:
  std::vector<PipelineEntry> entries_;
  std::vector<std::unique_ptr<Pass>> passes_;
  std::vector<PassRecord> records_;
  std::string pipeline_text_;
};

size_t count_nodes(const ir::Model& model);          // including subgraphs
size_t weight_bytes(const ir::Model& model);         // initializer bytes

}  // namespace ember::passes
