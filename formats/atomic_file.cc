#include "formats/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <streambuf>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/temp_files.h"

namespace ember::formats {
namespace {

// A buffered streambuf over a file descriptor that remembers the first write error, so the
// caller can report errno instead of a bare "stream failed".
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd), buffer_(1 << 16) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }
  bool flush_all() { return flush_buffer() && error_ == 0; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    // Large blocks (tensor bytes) bypass the buffer.
    if (n >= static_cast<std::streamsize>(buffer_.size())) {
      if (!flush_buffer() || !write_all(s, static_cast<size_t>(n))) return 0;
      return n;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  bool flush_buffer() {
    const size_t pending = static_cast<size_t>(pptr() - pbase());
    const bool ok = pending == 0 || write_all(pbase(), pending);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return ok;
  }
  bool write_all(const char* p, size_t n) {
    if (error_) return false;
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

void sync_directory(const std::string& dir) {
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the data itself is already on disk
  (void)fsync(fd);
  close(fd);
}

}  // namespace

Status write_file_atomic(const std::string& path, const std::function<Status(std::ostream&)>& writer) {
  if (path.empty()) return invalid_input("empty output path");
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return invalid_input("cannot write '" + path + "': it is a directory");
    // Renaming over a device, FIFO, socket or symlink would replace it (as root, -o /dev/null
    // would replace the real /dev/null): only regular files are ever replaced.
    if (!S_ISREG(st.st_mode))
      return invalid_input("cannot write '" + path + "': it exists and is not a regular file (" +
                           (S_ISLNK(st.st_mode) ? "a symlink" : "a device, FIFO or socket") + "); Ember only replaces regular files");
  }
  remove_stale_temporaries(path);
  std::string temp = temporary_template(path);
  const int fd = mkstemp(temp.data());
  if (fd < 0) return invalid_input("cannot write '" + path + "': " + std::strerror(errno));
  const int slot = register_temporary(temp);
  auto fail = [&](Status status) {
    close(fd);
    unlink(temp.c_str());
    unregister_temporary(slot);
    return status;
  };
  (void)fchmod(fd, 0644);  // mkstemp creates 0600; outputs are meant to be shared
  FdStreamBuf buf(fd);
  std::ostream out(&buf);
  Status status = writer(out);
  if (!status.ok()) return fail(status.with_context("while writing '" + path + "'"));
  out.flush();
  if (!out || !buf.flush_all()) {
    const int err = buf.error();
    return fail(invalid_input("cannot write '" + path + "': " + (err ? std::strerror(err) : "stream error")));
  }
  if (fsync(fd) != 0) return fail(invalid_input("cannot sync '" + path + "': " + std::strerror(errno)));
  if (close(fd) != 0) {
    const int err = errno;
    unlink(temp.c_str());
    unregister_temporary(slot);
    return invalid_input("cannot write '" + path + "': " + std::strerror(err));
  }
  const int renamed = rename(temp.c_str(), path.c_str());
  const int err = errno;
  if (renamed != 0) unlink(temp.c_str());
  unregister_temporary(slot);  // after the rename: a signal in between finds no file to remove
  if (renamed != 0) return invalid_input("cannot replace '" + path + "': " + std::strerror(err));
  sync_directory(parent_directory(path));
  return Status::Ok();
}

Status write_string_atomic(const std::string& path, std::string_view contents) {
  return write_file_atomic(path, [&](std::ostream& out) {
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return Status::Ok();
  });
}

}  // namespace ember::formats
