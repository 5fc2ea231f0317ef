// Pipeline text: "fold-constants,quantize-weights{bits=4,block=32},dce". Empty text is
// the empty pipeline (a load and save).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/pass.h"

namespace ember::passes {

struct PipelineEntry {
  std::string name;
  PassOptions options;
};
// An entry built in code: pass `name` with these option values.
inline PipelineEntry pipeline_entry(const std::string& name, std::map<std::string, std::string> options = {}) {
  return {name, PassOptions(name, std::move(options))};
}

Result<std::vector<PipelineEntry>> parse_pipeline(const std::string& text);
// The canonical text of a parsed pipeline (options sorted), for manifests and logs.
std::string pipeline_to_string(const std::vector<PipelineEntry>& pipeline);

}  // namespace ember::passes
