#include "formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ember::formats {

MappedFile::~MappedFile() {
  if (data_) munmap(data_, size_);
}

Result<std::shared_ptr<MappedFile>> map_file(const std::string& path) {
  if (path.empty()) return invalid_input("empty file path");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return invalid_input("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return invalid_input("cannot stat '" + path + "': " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return invalid_input("'" + path + "' is a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return invalid_input("'" + path + "' is not a regular file");
  }
  if (st.st_size == 0) {
    close(fd);
    return invalid_input("'" + path + "' is empty");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int err = errno;
  close(fd);  // the mapping keeps the file alive
  if (p == MAP_FAILED) return invalid_input("cannot map '" + path + "': " + std::strerror(err));
  return std::shared_ptr<MappedFile>(new MappedFile(path, static_cast<uint8_t*>(p), size));
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace ember::formats
