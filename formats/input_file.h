// Opening the files Ember reads (models, external data, .npy/.npz, manifests) as a hostile
// user could hand them over: an open never blocks (a FIFO or a device given as a model must
// not hang), only regular files are read, sizes are checked before reading, and a path taken
// from inside a file (an external-data location) stays inside the model's directory, as
// onnx's checker and onnxruntime require: no "..", no absolute path, no symlink leading out.
#pragma once
#include <cstdint>
#include <string>

#include "ir/status.h"

namespace ember::formats {

// An open read-only descriptor of a regular file and its size; closes on destruction.
class InputFile {
 public:
  InputFile() = default;
  InputFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  InputFile(InputFile&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Opens `path` without blocking and checks that it is a regular file. Missing files,
// directories, FIFOs, sockets and devices are invalid_input naming the path.
Result<InputFile> open_input_file(const std::string& path);

// Opens `location`, a path read from inside a file, relative to `base_dir` ("" = the working
// directory) and only if it stays inside it. `what` names the reference in messages
// ("tensor 'w': external data").
Result<InputFile> open_confined(const std::string& base_dir, const std::string& location, const std::string& what);

// The whole contents of a regular file of at most `max_bytes` (checked before reading).
Result<std::string> read_input_file(const std::string& path, uint64_t max_bytes);

// The lexical part of the confinement rule: relative, no ".." component, no NUL. Empty
// status when `location` is acceptable.
Status check_relative_location(const std::string& location, const std::string& what);

}  // namespace ember::formats
