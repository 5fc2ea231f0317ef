// Up-front validation of option values, so a bad value is exit 2 naming the option before any
// work starts. CLI11's own Range lets NaN through (every comparison with NaN is false), so
// real-valued options use FiniteIn. Also the process-wide limits every subcommand of ember and
// ember-rt shares: --max-memory, --max-tensor-memory and the iteration caps
// (ir/memory_limits.h), and the thread-count note. Shared by both CLIs (tools/common).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "ir/status.h"

namespace ember::cli {

// A real number in [lo, hi]; NaN and infinities are refused.
CLI::Validator FiniteIn(double lo, double hi);
// An integer in [lo, hi] (counts, batch sizes, limits).
CLI::Validator CountIn(int64_t lo, int64_t hi);
// Thread counts: 0 (all cores) up to kMaxThreadsOption; more than the cores is clamped later.
inline constexpr int kMaxThreadsOption = 1 << 16;
CLI::Validator ThreadCount();

// "4G", "512M", "1.5G", "1000000" (bytes); K/M/G/T are powers of 1024.
Result<uint64_t> parse_byte_size(const std::string& text);

// The global --max-memory / --max-tensor-memory / --max-loop-iterations / --max-sequence-length
// options (ir/memory_limits.h); they take effect as they are parsed, before the subcommand runs.
void add_memory_limit_options(CLI::App& app);

// Sets the process-wide thread count, printing a note when it was clamped to the cores.
void apply_threads(int requested, const char* command);

}  // namespace ember::cli
