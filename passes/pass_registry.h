// Lookup of passes by name, from passes.def.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "passes/pass.h"
#include "passes/pipeline.h"

namespace ember::passes {

struct PassInfo {
  std::string name;
  std::string summary;
  std::vector<OptionSpec> options;
};

const std::vector<PassInfo>& registered_passes();
// Unknown names and unknown or malformed options are invalid_input errors.
Result<std::unique_ptr<Pass>> create_pass(const PipelineEntry& entry);

}  // namespace ember::passes
