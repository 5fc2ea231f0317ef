// The HAL's first backends: the CPU at each ISA level (runtime/cpu.h). "cpu-scalar",
// "cpu-avx2", "cpu-avxvnni" and "cpu-avx512" are available when this CPU and OS run that level;
// "cpu" is the best level here. Each wraps a deploy::Session per handle.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deploy/ember_rt.h"
#include "runtime/cpu.h"

namespace ember::deploy {

// "cpu" -> the best level here; "cpu-avx2" -> kAvx2; anything else -> nullopt.
std::optional<runtime::IsaLevel> cpu_backend_level(std::string_view name);
std::string cpu_backend_name(runtime::IsaLevel level);
// The built-in backend tables, in registration order.
std::vector<ember_rt_backend> cpu_backends();

}  // namespace ember::deploy
