// PassManager: runs a pipeline, verifies the graph after every pass, and records each pass's
// time and statistics (nodes and weight bytes before and after).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "passes/pass.h"
#include "passes/pipeline.h"

namespace ember::passes {

struct PassRecord {
  std::string name;
  std::string options;  // canonical "k=v,..." text
  double seconds = 0;
  size_t nodes_before = 0, nodes_after = 0;
  size_t weight_bytes_before = 0, weight_bytes_after = 0;
};

class PassManager {
 public:
  static Result<PassManager> from_text(const std::string& pipeline_text);
  // From entries built in code (option values may then hold ',' or '}', e.g. regexes).
  static Result<PassManager> from_entries(std::vector<PipelineEntry> entries);
  Status run(ir::Model& model, PassContext& ctx);
  const std::vector<PassRecord>& records() const { return records_; }
  const std::string& pipeline_text() const { return pipeline_text_; }

 private:
  std::vector<PipelineEntry> entries_;
  std::vector<std::unique_ptr<Pass>> passes_;
  std::vector<PassRecord> records_;
  std::string pipeline_text_;
};

size_t count_nodes(const ir::Model& model);          // including subgraphs
size_t weight_bytes(const ir::Model& model);         // initializer bytes

}  // namespace ember::passes
