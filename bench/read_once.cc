// The floor a weight quantizer is compared with (issue 19: RTN within 5x of reading the weights
// once): the time to read a file once, measured the two ways a program can read it.
//   read: read() into one reused 4 MB buffer, one thread (what `cat` and `dd` do);
//   mmap: map the file and sum every float on the runtime's threads, as the quantizer reads
//         its mapped external data (page faults included).
// Each run reports wall seconds and the process's CPU seconds (user + system, getrusage), so a
// figure taken on a loaded machine can be compared by CPU time too. --cold first evicts the
// file from the page cache (posix_fadvise DONTNEED: only this file's clean pages, nothing else
// on the machine); --evict-only just does that and exits, so a script can start another
// program on a cold cache.
//
//   read_once FILE [--runs N] [--cold] [--evict-only] [--threads N]
// Prints one JSON object: the median over the runs of each way, and every run.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/parallel.h"

namespace {

struct Timing {
  double wall = 0, cpu = 0;
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

template <class Fn>
Timing timed(Fn&& fn) {
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  const auto t1 = std::chrono::steady_clock::now();
  return {std::chrono::duration<double>(t1 - t0).count(), cpu_seconds() - c0};
}

bool evict(int fd) { return posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0; }

// read() into a reused buffer until the end; false on an error or a short file.
bool read_all(int fd, size_t size) {
  static std::vector<char> buffer(size_t(4) << 20);
  size_t done = 0;
  while (true) {
    const ssize_t n = pread(fd, buffer.data(), buffer.size(), off_t(done));
    if (n < 0) return false;
    if (n == 0) break;
    done += size_t(n);
  }
  return done == size;
}

// Maps the file and sums its floats on the runtime's threads (one contiguous chunk each, in
// 1 MB pieces claimed in turn); returns the sum so the reads cannot be dropped.
float map_and_sum(int fd, size_t size) {
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return -1.0f;
  const float* x = static_cast<const float*>(p);
  const int64_t piece = int64_t(1) << 18, floats = int64_t(size / sizeof(float));
  std::atomic<float> total{0.0f};
  ember::runtime::parallel_for((floats + piece - 1) / piece, 1, [&](int64_t b, int64_t e) {
    float s[16] = {};
    for (int64_t i = b * piece; i < std::min(floats, e * piece); i += 16)
      for (int64_t j = 0; j < 16 && i + j < floats; ++j) s[j] += x[i + j];
    float t = 0;
    for (float v : s) t += v;
    float cur = total.load();
    while (!total.compare_exchange_weak(cur, cur + t)) {
    }
  });
  munmap(p, size);
  return total.load();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v[(v.size() - 1) / 2] + v[v.size() / 2]) / 2;
}

std::string runs_json(const std::vector<Timing>& runs) {
  std::string s = "[";
  char buf[96];
  for (size_t i = 0; i < runs.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s{\"seconds\": %.3f, \"cpu_seconds\": %.3f}", i ? ", " : "", runs[i].wall, runs[i].cpu);
    s += buf;
  }
  return s + "]";
}

std::string summary_json(const char* name, const std::vector<Timing>& runs, double gb) {
  std::vector<double> wall, cpu;
  for (const Timing& t : runs) wall.push_back(t.wall), cpu.push_back(t.cpu);
  char buf[256];
  std::snprintf(buf, sizeof buf, "\"%s\": {\"seconds\": %.3f, \"cpu_seconds\": %.3f, \"gb_per_s\": %.2f, \"runs\": ", name,
                median(wall), median(cpu), gb / std::max(1e-9, median(wall)));
  return buf + runs_json(runs) + "}";
}

int usage() {
  std::fprintf(stderr,
               "usage: read_once FILE [--runs N (default 3)] [--cold] [--evict-only] [--threads N (default: all cores)]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const char* path = argv[1];
  int runs = 3, threads = 0;
  bool cold = false, evict_only = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--cold") cold = true;
    else if (a == "--evict-only") evict_only = true;
    else return usage();
  }
  if (runs < 1) return usage();
  const int fd = open(path, O_RDONLY);
  struct stat st{};
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fprintf(stderr, "read_once: cannot open regular file '%s': %s\n", path, std::strerror(errno));
    return 2;
  }
  if (evict_only) return evict(fd) ? 0 : 3;
  ember::runtime::set_num_threads(threads);
  const size_t size = size_t(st.st_size);
  std::vector<Timing> reads, maps;
  float sink = 0;
  for (int r = 0; r < runs; ++r) {
    if (cold) evict(fd);
    bool ok = true;
    reads.push_back(timed([&] { ok = read_all(fd, size); }));
    if (!ok) {
      std::fprintf(stderr, "read_once: reading '%s' failed\n", path);
      return 3;
    }
    if (cold) evict(fd);
    maps.push_back(timed([&] { sink += map_and_sum(fd, size); }));
  }
  close(fd);
  const double gb = double(size) / 1e9;
  std::printf("{\"file\": \"%s\", \"bytes\": %zu, \"cold\": %s, \"threads\": %d, %s, %s, \"checksum\": %g}\n", path, size,
              cold ? "true" : "false", ember::runtime::num_threads(), summary_json("read", reads, gb).c_str(),
              summary_json("mmap_sum", maps, gb).c_str(), double(sink));
  return 0;
}
