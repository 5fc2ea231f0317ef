// Options of a pass. Pipeline text gives values as strings ("quantize-weights{bits=4}"); each
// pass declares its options once, as an OptionTable over its options struct: the option's
// name, the struct member it sets (which fixes its type), and its help. The default is the
// member's value in a default-constructed struct, so type and default live in one place.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "ir/status.h"

namespace ember::passes {

struct OptionSpec {
  std::string name;
  std::string type;  // "int", "float", "bool", "string"
  std::string default_value;
  std::string help;
};

// Option values from pipeline text, for one pass.
class PassOptions {
 public:
  PassOptions() = default;
  PassOptions(std::string pass_name, std::map<std::string, std::string> values)
      : pass_name_(std::move(pass_name)), values_(std::move(values)) {}
  Status check(const std::vector<OptionSpec>& specs) const;  // unknown keys and malformed values
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  const std::string& pass_name() const { return pass_name_; }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::string pass_name_;
  std::map<std::string, std::string> values_;
};

// Parsers of option text; false when the text is not a value of that type.
bool parse_option_value(const std::string& text, int64_t& out);
bool parse_option_value(const std::string& text, double& out);
bool parse_option_value(const std::string& text, bool& out);
bool parse_option_value(const std::string& text, std::string& out);
std::string option_value_text(int64_t v);
std::string option_value_text(double v);
std::string option_value_text(bool v);
std::string option_value_text(const std::string& v);

template <class T>
class OptionTable {
 public:
  using Member = std::variant<int64_t T::*, double T::*, bool T::*, std::string T::*>;
  struct Field {
    std::string name;
    Member member;
    std::string help;
    std::string default_text = {};  // shown instead of the member's default (e.g. "auto: ...")
  };
  explicit OptionTable(std::vector<Field> fields) : fields_(std::move(fields)) {}

  std::vector<OptionSpec> specs() const {
    static const char* const kTypes[] = {"int", "float", "bool", "string"};
    const T defaults{};
    std::vector<OptionSpec> out;
    for (const Field& f : fields_) {
      const std::string value = std::visit([&](auto m) { return option_value_text(defaults.*m); }, f.member);
      out.push_back({f.name, kTypes[f.member.index()], f.default_text.empty() ? value : f.default_text, f.help});
    }
    return out;
  }

  // The struct with the given options set over the defaults; unknown keys and malformed
  // values are invalid_input errors naming the pass and the option.
  Result<T> parse(const PassOptions& options) const {
    EMBER_TRY(options.check(specs()));
    T out{};
    for (const auto& [key, text] : options.values())
      for (const Field& f : fields_)
        if (f.name == key) std::visit([&](auto m) { parse_option_value(text, out.*m); }, f.member);
    return out;
  }

 private:
  std::vector<Field> fields_;
};

}  // namespace ember::passes
