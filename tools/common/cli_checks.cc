#include "tools/common/cli_checks.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "ir/memory_limits.h"
#include "runtime/cores.h"
#include "runtime/parallel.h"

namespace ember::cli {
namespace {

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

}  // namespace

CLI::Validator FiniteIn(double lo, double hi) {
  const std::string range = "[" + number_text(lo) + ", " + number_text(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE)
          return "'" + text + "' is not a number";
        if (!std::isfinite(v)) return "'" + text + "' is not a finite number";
        if (v < lo || v > hi) return text + " is outside " + range;
        return {};
      },
      "FLOAT in " + range);
}

CLI::Validator CountIn(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE)
          return "'" + text + "' is not an integer";
        if (v < lo || v > hi) return text + " is outside " + range;
        return {};
      },
      "INT in " + range);
}

CLI::Validator ThreadCount() { return CountIn(0, kMaxThreadsOption); }

Result<uint64_t> parse_byte_size(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || errno == ERANGE || !std::isfinite(v) || v <= 0)
    return invalid_input("'" + text + "' is not a positive size (e.g. 4G, 512M, 1000000)");
  double scale = 1;
  const std::string suffix(end);
  if (suffix == "K" || suffix == "k") scale = 1024.0;
  else if (suffix == "M") scale = 1024.0 * 1024;
  else if (suffix == "G") scale = 1024.0 * 1024 * 1024;
  else if (suffix == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!suffix.empty()) return invalid_input("'" + text + "': unknown size suffix '" + suffix + "' (K, M, G or T)");
  const double bytes = v * scale;
  if (bytes >= 1.8e19) return invalid_input("'" + text + "' is too large");
  return static_cast<uint64_t>(bytes);
}

void add_memory_limit_options(CLI::App& app) {
  const MemoryLimits defaults = default_memory_limits();
  auto setter = [](bool total) {
    return [total](const std::string& text) {
      auto bytes = parse_byte_size(text);
      if (!bytes.ok()) throw CLI::ValidationError(total ? "--max-memory" : "--max-tensor-memory", bytes.status().message());
      MemoryLimits limits = memory_limits();
      (total ? limits.max_total_bytes : limits.max_tensor_bytes) = *bytes;
      set_memory_limits(limits);
    };
  };
  app.add_option_function<std::string>("--max-memory", setter(true),
                                        "Cap on all tensor storage together, e.g. 8G (default: three quarters of the "
                                        "memory this process may use, here " + format_bytes(defaults.max_total_bytes) + ")")
      ->trigger_on_parse();
  app.add_option_function<std::string>("--max-tensor-memory", setter(false),
                                        "Cap on one tensor's storage, e.g. 2G (default: half the memory this process may "
                                        "use, here " + format_bytes(defaults.max_tensor_bytes) + ")")
      ->trigger_on_parse();
  // The iteration caps, counts in [1, 2^40].
  auto count_setter = [](int64_t MemoryLimits::*field) {
    return [field](const int64_t& count) {
      MemoryLimits limits = memory_limits();
      limits.*field = count;
      set_memory_limits(limits);
    };
  };
  app.add_option_function<int64_t>("--max-loop-iterations", count_setter(&MemoryLimits::max_loop_iterations),
                                    "Cap on the iterations of one Loop node's execution (default " +
                                        std::to_string(defaults.max_loop_iterations) + ")")
      ->check(CountIn(1, int64_t{1} << 40))
      ->trigger_on_parse();
  app.add_option_function<int64_t>("--max-sequence-length", count_setter(&MemoryLimits::max_sequence_length),
                                    "Cap on the steps of one Scan or RNN/GRU/LSTM execution (default " +
                                        std::to_string(defaults.max_sequence_length) + ")")
      ->check(CountIn(1, int64_t{1} << 40))
      ->trigger_on_parse();
}

void apply_threads(int requested, const char* command) {
  const int used = runtime::effective_threads(requested);
  runtime::set_num_threads(requested);
  if (requested > used)
    std::fprintf(stderr, "%s: note: --threads %d is more than the %d cores available; using %d\n", command, requested,
                 runtime::available_cores(), used);
}

}  // namespace ember::cli
