// ember passes [--json]: the registered passes and their options.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "passes/pass_registry.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

int run_passes(bool json) {
  const auto& infos = passes::registered_passes();
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& info : infos) {
      nlohmann::json options = nlohmann::json::array();
      for (const auto& o : info.options)
        options.push_back({{"name", o.name}, {"type", o.type}, {"default", o.default_value}, {"help", o.help}});
      list.push_back({{"name", info.name}, {"summary", info.summary}, {"options", options}});
    }
    std::printf("%s\n", json_text(list).c_str());
    return kExitOk;
  }
  std::printf("Passes (use in --passes \"name{key=value,...},name2\"):\n\n");
  for (const auto& info : infos) {
    std::printf("  %-24s %s\n", info.name.c_str(), info.summary.c_str());
    for (const auto& o : info.options)
      std::printf("      %s=<%s>  %s (default %s)\n", o.name.c_str(), o.type.c_str(), o.help.c_str(), o.default_value.c_str());
  }
  return kExitOk;
}

}  // namespace

void add_passes_command(CLI::App& app, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("passes", "List the registered passes and their options");
  sub->add_flag("--json", *json, "Print machine-readable JSON");
  sub->final_callback([json, &exit_code] { exit_code = run_passes(*json); });
}

}  // namespace ember::cli
