#include "formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace ember::formats {

MappedFile::~MappedFile() {
  if (data_) munmap(data_, size_);
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
  return std::shared_ptr<MappedFile>(new MappedFile(path, static_cast<uint8_t*>(p), size));
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace ember::formats
