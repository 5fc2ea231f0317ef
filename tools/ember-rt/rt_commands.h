// The subcommands of ember-rt and what they share.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "ir/status.h"
#include "runtime/interpreter.h"

namespace ember::rt {

int report(const Status& status);  // prints "ember-rt: error: ..." and returns the exit code
// Loads a model, checks it against the manifest when one is given, and builds the interpreter.
// Packed weights come from and go to the cache beside the model (rt_pack_cache.h) unless
// `pack_cache` is false; `cache_stats` (optional) tells what the cache did.
struct PackCacheStats;
Result<std::unique_ptr<runtime::Interpreter>> open_model(const std::string& model_path, const std::string& manifest_path,
                                                         int threads, bool pack_cache = true,
                                                         PackCacheStats* cache_stats = nullptr);

void add_run_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace ember::rt
