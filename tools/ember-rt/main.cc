// ember-rt: the tiny runtime. Links only ir/, formats/, runtime/ and deploy/.
//   ember-rt run MODEL [--manifest M] --input name=FILE.npy ... [--output-dir DIR]
//   ember-rt bench MODEL --input-shape name=1x256 ... [--threads N] [--runs N] [--json]
//   ember-rt check MODEL --manifest M [--json]
//   ember-rt serve MODEL [--manifest M] [--port N] ...
// Exit codes: 0 ok, 2 bad usage or input (including a manifest whose hash does not match
// the model), 3 internal error.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "formats/temp_files.h"
#include "ir/memory_limits.h"
#include "tools/common/cli_checks.h"
#include "tools/ember-rt/rt_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ember-rt: run Ember-compressed ONNX models fast on a CPU"};
  app.set_version_flag("--version", std::string("ember-rt ") + EMBER_VERSION);
  app.require_subcommand(1);
  ember::formats::remove_temporaries_on_signals();  // run --output-dir writes through temporaries
  ember::cli::add_memory_limit_options(app);  // --max-memory, --max-tensor-memory, the iteration caps
  int exit_code = 0;
  ember::rt::add_run_command(app, exit_code);
  ember::rt::add_bench_command(app, exit_code);
  ember::rt::add_check_command(app, exit_code);
  ember::rt::add_serve_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const ember::AllocationRefused& e) {  // outside a kernel, e.g. a huge --input-shape
    std::fprintf(stderr, "ember-rt: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ember-rt: error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember-rt: internal error: %s\n", e.what());
    return 3;
  }
  return exit_code;
}
