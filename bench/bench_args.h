// Argument parsing shared by the kernel benchmarks.
#pragma once
#include <cstdlib>
#include <vector>

namespace ember::bench {

// "1,2" -> {1, 2}; false on an empty, non-numeric or non-positive entry.
inline bool parse_thread_list(const char* text, std::vector<int>& threads) {
  threads.clear();
  for (const char* p = text; *p;) {
    char* end = nullptr;
    const long t = std::strtol(p, &end, 10);
    if (end == p || t <= 0) return false;
    threads.push_back(static_cast<int>(t));
    p = *end == ',' ? end + 1 : end;
  }
  return !threads.empty();
}

}  // namespace ember::bench
