#include "formats/input_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace ember::formats {
namespace {

constexpr int kReadFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

// Checks what an open descriptor refers to; closes it and explains when it is not a regular file.
Result<InputFile> regular_file(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return invalid_input("cannot stat '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    if (S_ISDIR(st.st_mode)) return invalid_input("'" + path + "' is a directory, not a file");
    const char* kind = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file";
    return invalid_input("'" + path + "' is " + kind + ", not a regular file");
  }
  // Regular files never block; later reads need no O_NONBLOCK.
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return InputFile(fd, static_cast<uint64_t>(st.st_size));
}

std::string joined(const std::string& base_dir, const std::string& location) {
  return base_dir.empty() ? location : base_dir + "/" + location;
}

// Without openat2 (kernels before 5.6, some sandboxes): compare canonical paths, then open.
Result<InputFile> open_confined_by_realpath(const std::string& base_dir, const std::string& location,
                                           const std::string& what) {
  const std::string path = joined(base_dir, location);
  char base_real[PATH_MAX], target_real[PATH_MAX];
  if (!realpath(base_dir.empty() ? "." : base_dir.c_str(), base_real))
    return invalid_input(what + ": cannot resolve the model's directory '" + base_dir + "': " + std::strerror(errno));
  if (!realpath(path.c_str(), target_real))
    return invalid_input(what + ": cannot open '" + path + "': " + std::strerror(errno));
  const std::string base = base_real, target = target_real;
  const std::string prefix = base == "/" ? base : base + "/";
  if (target.compare(0, prefix.size(), prefix) != 0)
    return invalid_input(what + ": location '" + location + "' resolves to '" + target +
                         "', outside the model's directory");
  return open_input_file(target);
}

}  // namespace

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    size_ = other.size_;
    other.fd_ = -1;
  }
  return *this;
}

InputFile::~InputFile() {
  if (fd_ >= 0) close(fd_);
}

Result<InputFile> open_input_file(const std::string& path) {
  if (path.empty()) return invalid_input("empty file path");
  const int fd = open(path.c_str(), kReadFlags);
  if (fd < 0) return invalid_input("cannot open '" + path + "': " + std::strerror(errno));
  return regular_file(fd, path);
}

Status check_relative_location(const std::string& location, const std::string& what) {
  if (location.empty()) return invalid_input(what + ": the location is empty");
  if (location.find('\0') != std::string::npos) return invalid_input(what + ": the location holds a NUL byte");
  if (location[0] == '/')
    return invalid_input(what + ": location '" + location + "' is an absolute path; it must be relative to the model's directory");
  size_t begin = 0;
  while (begin <= location.size()) {
    size_t end = location.find('/', begin);
    if (end == std::string::npos) end = location.size();
    if (location.compare(begin, end - begin, "..") == 0)
      return invalid_input(what + ": location '" + location + "' contains '..'; it must stay inside the model's directory");
    begin = end + 1;
  }
  return Status::Ok();
}

Result<InputFile> open_confined(const std::string& base_dir, const std::string& location, const std::string& what) {
  EMBER_TRY(check_relative_location(location, what));
  const std::string path = joined(base_dir, location);
  const int dir = open(base_dir.empty() ? "." : base_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return invalid_input(what + ": cannot open the model's directory '" + base_dir + "': " + std::strerror(errno));
  struct open_how how {};
  how.flags = kReadFlags;
  // Symlinks are followed only while they stay beneath the directory; /proc magic links never.
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd = syscall(SYS_openat2, dir, location.c_str(), &how, sizeof how);
  const int err = errno;
  close(dir);
  if (fd < 0) {
    if (err == ENOSYS || err == EPERM) return open_confined_by_realpath(base_dir, location, what);
    if (err == EXDEV)
      return invalid_input(what + ": location '" + location + "' resolves outside the model's directory");
    if (err == ELOOP) return invalid_input(what + ": location '" + location + "' is a symlink loop or a /proc link");
    return invalid_input(what + ": cannot open '" + path + "': " + std::strerror(err));
  }
  auto file = regular_file(static_cast<int>(fd), path);
  if (!file.ok()) return file.status().with_context(what);
  return file;
}

Result<std::string> read_input_file(const std::string& path, uint64_t max_bytes) {
  EMBER_ASSIGN_OR_RETURN(InputFile file, open_input_file(path));
  if (file.size() > max_bytes)
    return invalid_input("'" + path + "' holds " + std::to_string(file.size()) + " bytes, more than the " +
                         std::to_string(max_bytes) + " allowed for it");
  std::string text(file.size(), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = read(file.fd(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return invalid_input("cannot read '" + path + "': " + std::strerror(errno));
    if (n == 0) break;  // shrank while we read: keep what is there
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return text;
}

}  // namespace ember::formats
