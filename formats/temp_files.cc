#include "formats/temp_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "formats/mapped_file.h"

namespace ember::formats {
namespace {

constexpr const char* kMarker = ".ember-tmp-";
constexpr int kSlots = 32;

// Fixed storage, so the signal handler reads it without allocating or locking.
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[PATH_MAX];
};
Slot g_slots[kSlots];

std::string file_name_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void on_signal(int signo) {
  for (Slot& slot : g_slots)
    if (slot.state.load(std::memory_order_acquire) == 2) unlink(slot.path);
  // Die of the signal as the default action would (the exit status tells the caller so).
  std::signal(signo, SIG_DFL);
  raise(signo);
}

// The pid in "<pid>-XXXXXX", or 0 when the suffix has another shape.
pid_t pid_of_suffix(const char* suffix) {
  char* end = nullptr;
  errno = 0;
  const long pid = std::strtol(suffix, &end, 10);
  if (errno != 0 || end == suffix || *end != '-' || std::strlen(end + 1) != 6 || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

}  // namespace

std::string temporary_template(const std::string& target) {
  return target + kMarker + std::to_string(getpid()) + "-XXXXXX";
}

int remove_stale_temporaries(const std::string& target) {
  const std::string dir = parent_directory(target);
  const std::string prefix = file_name_of(target) + kMarker;
  DIR* listing = opendir(dir.empty() ? "." : dir.c_str());
  if (!listing) return 0;
  int removed = 0;
  while (const dirent* entry = readdir(listing)) {
    if (std::strncmp(entry->d_name, prefix.c_str(), prefix.size()) != 0) continue;
    const pid_t pid = pid_of_suffix(entry->d_name + prefix.size());
    if (pid == 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    struct stat st {};
    if (fstatat(dirfd(listing), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) continue;
    if (unlinkat(dirfd(listing), entry->d_name, 0) == 0) ++removed;
  }
  closedir(listing);
  return removed;
}

int register_temporary(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(2, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_temporary(int slot) {
  if (slot >= 0 && slot < kSlots) g_slots[slot].state.store(0, std::memory_order_release);
}

void remove_temporaries_on_signals() {
  for (int signo : {SIGINT, SIGTERM}) {
    struct sigaction current {};
    if (sigaction(signo, nullptr, &current) != 0) continue;
    if (current.sa_handler != SIG_DFL) continue;  // ignored, or the program's own handler
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(signo, &action, nullptr);
  }
  // A file-size limit (ulimit -f) would kill the process in the middle of a write, leaving the
  // temporary file; ignored, the write fails with EFBIG and the atomic writer removes it.
  struct sigaction current {};
  if (sigaction(SIGXFSZ, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) signal(SIGXFSZ, SIG_IGN);
}

}  // namespace ember::formats
