// What every `ember` subcommand shares: exit codes, error printing, model loading, progress.
// Only the CLI prints and chooses exit codes: 0 ok, 1 accuracy budget missed, 2 bad usage or
// input, 3 internal error.
#pragma once
#include <chrono>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/onnx_save.h"
#include "ir/model.h"
#include "ir/status.h"
#include "passes/pass.h"

namespace ember::cli {

enum ExitCode { kExitOk = 0, kExitBudgetMissed = 1, kExitBadInput = 2, kExitInternal = 3 };

int exit_code_for(const Status& status);
// Prints "ember: error: <message>" to stderr and returns the exit code for the status.
int report(const Status& status);

Result<ir::Model> load_model(const std::string& path);

// When `save` puts the output's weights in external data, starts writing that file while the
// passes run (formats/external_data_writer.h) and points ctx and save at the writer, so the
// output's weights go to disk as the passes finish them, not all after the last pass.
Result<std::unique_ptr<formats::ExternalDataWriter>> write_data_during_passes(const std::string& output,
                                                                              formats::SaveOptions& save,
                                                                              passes::PassContext& ctx);

// A progress line on stderr, redrawn in place when stderr is a terminal, silent otherwise.
class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  void update(int64_t done);
  std::function<void(int64_t, int64_t)> callback();

 private:
  std::string label_;
  int64_t total_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();  // for the ETA
};

std::string human_bytes(double bytes);  // "43.9 MB"

// An output directory created for this run: the levels that did not exist are made, and on
// destruction those still empty are removed again, so a failed run leaves no empty folder.
class OutputDirectory {
 public:
  OutputDirectory() = default;
  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;
  ~OutputDirectory();
  Status create(const std::string& path);

 private:
  std::vector<std::string> created_;  // outermost first
};

// JSON text for output; names that are not valid UTF-8 (ONNX strings are bytes) are printed
// with U+FFFD instead of failing.
std::string json_text(const nlohmann::json& j, int indent = 2);

// Each subcommand file defines one of these; main.cc calls them all. The subcommand's final
// callback stores its exit code in `exit_code`.
void add_inspect_command(CLI::App& app, int& exit_code);
void add_passes_command(CLI::App& app, int& exit_code);
void add_opt_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_calibrate_command(CLI::App& app, int& exit_code);
void add_compress_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_importance_command(CLI::App& app, int& exit_code);
void add_prune_command(CLI::App& app, int& exit_code);

}  // namespace ember::cli
