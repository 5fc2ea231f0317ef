#include "passes/pass_registry.h"

#include "passes/analysis/analyze_importance.h"
#include "passes/batch/free_batch.h"
#include "passes/cleanup/constants_to_initializers.h"
#include "passes/cleanup/dce.h"
#include "passes/cleanup/dedupe_initializers.h"
#include "passes/cleanup/opset_upgrade.h"
#include "passes/cleanup/remove_identity.h"
#include "passes/prune/prune_structured.h"
#include "passes/quantize/activation_quantizer.h"
#include "passes/quantize/smoothquant.h"
#include "passes/quantize/weight_quantizer.h"

namespace ember::passes {

const std::vector<PassInfo>& registered_passes() {
  static const std::vector<PassInfo> infos = {
#define PASS(NAME, CLASS, SUMMARY) {NAME, SUMMARY, CLASS::option_specs()},
#include "passes/passes.def"
#undef PASS
  };
  return infos;
}

Result<std::unique_ptr<Pass>> create_pass(const PipelineEntry& entry) {
#define PASS(NAME, CLASS, SUMMARY)                          \
  if (entry.name == NAME) {                                 \
    EMBER_TRY(entry.options.check(CLASS::option_specs()));  \
    return std::unique_ptr<Pass>(new CLASS(entry.options)); \
  }
#include "passes/passes.def"
#undef PASS
  std::string names;
  for (const auto& info : registered_passes()) names += (names.empty() ? "" : ", ") + info.name;
  return invalid_input("unknown pass '" + entry.name + "' (passes: " + names + ")");
}

}  // namespace ember::passes
