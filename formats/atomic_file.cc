#include "formats/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <streambuf>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/temp_files.h"

namespace ember::formats {
namespace {

// Writes all n bytes to fd, retrying on EINTR, and on EINVAL when `retry_einval` says so (it
// clears O_DIRECT). Returns 0 or the errno of the failure.
template <class RetryEinval>
int write_fully(int fd, const char* p, size_t n, RetryEinval retry_einval) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR || (errno == EINVAL && retry_einval())) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

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
    if (!error_) error_ = write_fully(fd_, p, n, [] { return false; });
    return error_ == 0;
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

// Writes through O_DIRECT from an aligned buffer: the bytes go from this buffer to the disk
// without a copy into new page-cache pages, which on a VM (pages the host must back first) cost
// 6x-70x the CPU of the direct write for a gigabyte. Full aligned blocks only; the tail is
// written after O_DIRECT is cleared. Where the file system refuses O_DIRECT (tmpfs), it is the
// buffered writer.
class DirectStreamBuf : public std::streambuf {
 public:
  static constexpr size_t kBlock = 4096, kBuffer = size_t(8) << 20;
  explicit DirectStreamBuf(int fd) : fd_(fd) {
    const int flags = fcntl(fd, F_GETFL);
    direct_ = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
    buffer_ = static_cast<char*>(aligned_alloc(kBlock, kBuffer));
    if (!buffer_) error_ = ENOMEM;  // every write then fails with it (no exception leaves the library)
    setp(buffer_, buffer_ ? buffer_ + kBuffer : nullptr);
  }
  ~DirectStreamBuf() override { free(buffer_); }
  int error() const { return error_; }
  bool flush_all() {
    const size_t pending = static_cast<size_t>(pptr() - pbase());
    const size_t aligned = direct_ ? pending / kBlock * kBlock : pending;
    if (!write_all(buffer_, aligned)) return false;
    if (pending > aligned) {  // the tail: not a whole block, so written without O_DIRECT
      if (direct_ && !clear_direct()) return (error_ = errno), false;
      if (!write_all(buffer_ + aligned, pending - aligned)) return false;
    }
    setp(buffer_, buffer_ + kBuffer);
    return error_ == 0;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!write_all(buffer_, kBuffer)) return traits_type::eof();
    setp(buffer_, buffer_ + kBuffer);
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::streamsize done = 0;
    while (done < n) {
      if (pptr() == epptr() && traits_type::eq_int_type(overflow(traits_type::eof()), traits_type::eof())) return done;
      const std::streamsize room = epptr() - pptr(), step = std::min(room, n - done);
      std::memcpy(pptr(), s + done, static_cast<size_t>(step));
      pbump(static_cast<int>(step));
      done += step;
    }
    return n;
  }

 private:
  bool write_all(const char* p, size_t n) {
    if (!error_) error_ = write_fully(fd_, p, n, [&] { return direct_ && clear_direct(); });  // O_DIRECT accepted, then refused
    return error_ == 0;
  }
  bool clear_direct() {
    const int flags = fcntl(fd_, F_GETFL);
    direct_ = false;
    return flags >= 0 && fcntl(fd_, F_SETFL, flags & ~O_DIRECT) == 0;
  }

  int fd_;
  bool direct_ = false;
  char* buffer_ = nullptr;
  int error_ = 0;
};

// Streams `writer` into fd through a Buf; its error, or the first write error naming errno.
template <class Buf>
Status write_through(int fd, const std::string& path, const std::function<Status(std::ostream&)>& writer) {
  Buf buf(fd);
  std::ostream out(&buf);
  Status status = writer(out);
  if (!status.ok()) return status.with_context("while writing '" + path + "'");
  out.flush();
  if (!out || !buf.flush_all()) {
    const int err = buf.error();
    return invalid_input("cannot write '" + path + "': " + (err ? std::strerror(err) : "stream error"));
  }
  return Status::Ok();
}

void sync_directory(const std::string& dir) {
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the data itself is already on disk
  (void)fsync(fd);
  close(fd);
}

}  // namespace

Status write_file_atomic(const std::string& path, const std::function<Status(std::ostream&)>& writer) {
  return write_file_atomic(path, writer, AtomicWriteOptions{});
}

namespace {

// The target may be replaced: a regular file or nothing.
Status check_replaceable(const std::string& path) {
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
  return Status::Ok();
}

}  // namespace

Status check_output_path(const std::string& path) {
  EMBER_TRY(check_replaceable(path));
  const std::string dir = parent_directory(path), shown = dir.empty() ? "." : dir;
  struct stat st {};
  if (stat(shown.c_str(), &st) != 0)
    return invalid_input("cannot write '" + path + "': its folder '" + shown + "': " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return invalid_input("cannot write '" + path + "': '" + shown + "' is not a folder");
  if (access(shown.c_str(), W_OK) != 0)
    return invalid_input("cannot write '" + path + "': its folder '" + shown + "': " + std::strerror(errno));
  return Status::Ok();
}

Status write_file_atomic(const std::string& path, const std::function<Status(std::ostream&)>& writer,
                         const AtomicWriteOptions& options) {
  EMBER_TRY(check_replaceable(path));
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
  Status status = options.direct ? write_through<DirectStreamBuf>(fd, path, writer) : write_through<FdStreamBuf>(fd, path, writer);
  if (!status.ok()) return fail(status);
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
