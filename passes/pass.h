// Pass interface. A pass rewrites an ir::Model in place and records what it changed in
// remarks. Passes have stable kebab-case names (passes.def) usable from the CLI, recipes,
// logs and the manifest, and options given in pipeline text: "name{key=value,...}".
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::calibration {
class CalibrationSet;
}
namespace ember::runtime {
class Interpreter;
}

namespace ember::passes {

struct OptionSpec {
  std::string name;
  std::string type;           // "int", "float", "bool", "string"
  std::string default_value;
  std::string help;
};

// Option values from pipeline text, checked against a pass's OptionSpecs.
class PassOptions {
 public:
  PassOptions() = default;
  PassOptions(std::string pass_name, std::map<std::string, std::string> values)
      : pass_name_(std::move(pass_name)), values_(std::move(values)) {}
  Status check(const std::vector<OptionSpec>& specs) const;  // unknown keys and bad values
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::string pass_name_;
  std::map<std::string, std::string> values_;
};

// What a pass reports: free-form remarks and named counters ("nodes-removed": 3).
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

struct PassContext {
  calibration::CalibrationSet* calib = nullptr;
  runtime::Interpreter* interp = nullptr;
  Remarks* remarks = nullptr;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  virtual Status run(ir::Model& model, PassContext& ctx) = 0;
};

}  // namespace ember::passes
