// The subcommands of ember-rt and what they share.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "deploy/session.h"
#include "ir/status.h"

namespace ember::rt {

int report(const Status& status);  // prints "ember-rt: error: ..." and returns the exit code
// Opens the model on the CPU backend: verifies the manifest when one is given (printing its
// warnings to stderr), clamps the threads, picks the ISA level. Packed weights come from and go
// to the cache beside the model (deploy/pack_cache.h) unless `pack_cache` is false.
Result<std::unique_ptr<deploy::Session>> open_model(const std::string& model_path, const std::string& manifest_path, int threads,
                                                    bool dynamic_batch = false, const std::string& sysfs_root = "",
                                                    bool pack_cache = true);
// Validates an option that must lie in [lo, hi]; the message names the option.
Status check_range(const char* option, long long value, long long lo, long long hi);

void add_run_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_check_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);

}  // namespace ember::rt
