// Pass interface. A pass rewrites an ir::Model in place, reports a typed record of what it
// did (result()), notes details in the remarks, and declares which cached analyses stay valid
// (preserved()). Passes have stable kebab-case names (passes.def) usable from the CLI,
// recipes, logs and the manifest, and options given in pipeline text: "name{key=value,...}"
// (pass_options.h).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis_manager.h"
#include "passes/budget.h"
#include "passes/pass_options.h"

namespace ember::calibration {
class CalibrationSet;
}
namespace ember::formats {
class ExternalDataWriter;
}

namespace ember::passes {

// Free-form notes and named counters ("nodes-removed": 3), for people and logs. Nothing parses
// them back: what other code reads comes from a pass's typed result.
struct Remarks {
  struct Entry {
    std::string pass;
    std::string message;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::map<std::string, double>> stats;  // pass -> counter -> value
  void note(std::string_view pass, std::string message) { entries.push_back({std::string(pass), std::move(message)}); }
  void count(std::string_view pass, const std::string& counter, double value) { stats[std::string(pass)][counter] += value; }
};

// What a pass did, typed for the code that reads it and serialized for --json and the manifest.
struct PassResult {
  virtual ~PassResult() = default;
  virtual nlohmann::json to_json() const = 0;
};

struct PassContext {
  PassContext(AnalysisManager& analyses_, Remarks& remarks_, const Budget* budget_ = nullptr)
      : calib(analyses_.calib()), analyses(analyses_), remarks(remarks_), budget(budget_) {}
  const calibration::CalibrationSet* calib;  // the analyses' calibration set, or nullptr
  AnalysisManager& analyses;
  Remarks& remarks;
  const Budget* budget;  // the accuracy budget of a compression, or nullptr
  // The output's external data, written while the passes run (external_data_writer.h): a
  // pass may hand it main-graph initializers it will not change again; nullptr when the
  // output is not saved with external data.
  formats::ExternalDataWriter* data_writer = nullptr;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  virtual Status run(ir::Model& model, PassContext& ctx) = 0;
  // The analyses still valid after run(); the PassManager drops the others.
  virtual PreservedAnalyses preserved() const { return PreservedAnalyses::none(); }
  // The typed record of the last run; nullptr for a pass that reports only counters.
  virtual std::shared_ptr<const PassResult> result() const { return nullptr; }
};

}  // namespace ember::passes
