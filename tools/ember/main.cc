// ember: the offline compression toolchain's command line. One file per subcommand.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "formats/temp_files.h"
#include "ir/memory_limits.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

int main(int argc, char** argv) {
  CLI::App app{"Ember: offline compression of ONNX models (importance, pruning, INT8/INT4 quantization)"};
  app.set_version_flag("--version", std::string("ember ") + EMBER_VERSION);
  app.require_subcommand(1);
  int exit_code = ember::cli::kExitOk;
  ember::cli::add_memory_limit_options(app);
  // An interrupted write removes its temporary file (formats/temp_files.h).
  ember::formats::remove_temporaries_on_signals();
  ember::cli::add_compress_command(app, exit_code);
  ember::cli::add_quantize_command(app, exit_code);
  ember::cli::add_inspect_command(app, exit_code);
  ember::cli::add_passes_command(app, exit_code);
  ember::cli::add_opt_command(app, exit_code);
  ember::cli::add_run_command(app, exit_code);
  ember::cli::add_eval_command(app, exit_code);
  ember::cli::add_calibrate_command(app, exit_code);
  ember::cli::add_importance_command(app, exit_code);
  ember::cli::add_prune_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : ember::cli::kExitBadInput;
  } catch (const ember::AllocationRefused& e) {  // outside a kernel (kernels report it themselves)
    std::fprintf(stderr, "ember: error: %s\n", e.what());
    return ember::cli::kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ember: error: out of memory (see --max-memory)\n");
    return ember::cli::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: internal error: %s\n", e.what());
    return ember::cli::kExitInternal;
  }
  return exit_code;
}
