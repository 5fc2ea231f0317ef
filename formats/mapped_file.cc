#include "formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <unistd.h>

namespace ember::formats {
namespace {

// Live mappings (start address -> size), so release_mapped_pages only ever touches them.
std::mutex& mappings_mutex() {
  static std::mutex m;
  return m;
}
std::map<uintptr_t, size_t>& live_mappings() {
  static std::map<uintptr_t, size_t> m;
  return m;
}

}  // namespace

MappedFile::~MappedFile() {
  if (!data_) return;
  {
    std::lock_guard<std::mutex> lock(mappings_mutex());
    live_mappings().erase(reinterpret_cast<uintptr_t>(data_));
  }
  munmap(data_, size_);
}

size_t release_mapped_pages(const void* data, size_t size) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data), end = begin + size;
  if (size == 0 || end < begin) return 0;
  std::lock_guard<std::mutex> lock(mappings_mutex());
  const auto& maps = live_mappings();
  auto it = maps.upper_bound(begin);
  if (it == maps.begin()) return 0;
  --it;
  if (end > it->first + it->second) return 0;  // not inside one mapping
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;  // whole pages only
  if (last <= first) return 0;
  if (madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
  return last - first;
}

Result<std::shared_ptr<MappedFile>> map_file(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(InputFile file, open_input_file(path));
  return map_input_file(file, path);
}

Result<std::shared_ptr<MappedFile>> map_input_file(const InputFile& file, const std::string& path) {
  if (file.size() == 0) return invalid_input("'" + path + "' is empty");
  if (file.size() > SIZE_MAX) return invalid_input("'" + path + "' is too large to map");
  const size_t size = static_cast<size_t>(file.size());
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.fd(), 0);
  if (p == MAP_FAILED) return invalid_input("cannot map '" + path + "': " + std::strerror(errno));
  {
    std::lock_guard<std::mutex> lock(mappings_mutex());
    live_mappings()[reinterpret_cast<uintptr_t>(p)] = size;
  }
  return std::shared_ptr<MappedFile>(new MappedFile(path, static_cast<uint8_t*>(p), size));
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace ember::formats
