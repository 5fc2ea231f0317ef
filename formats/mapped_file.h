// MappedFile: a whole file mapped into memory, so models and external weights are read
// without a copy. The mapping is private and writable (copy on write): tensors that view it
// may be edited in place by passes without touching the file on disk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "formats/input_file.h"
#include "ir/status.h"

namespace ember::formats {

class MappedFile {
 public:
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  friend Result<std::shared_ptr<MappedFile>> map_input_file(const InputFile& file, const std::string& path);
  MappedFile(std::string path, uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Maps a regular, non-empty file. Missing files, directories, other special files (FIFOs and
// devices are never waited on) and empty files are invalid_input errors that name the path.
Result<std::shared_ptr<MappedFile>> map_file(const std::string& path);
// Maps a file already opened (open_input_file, open_confined); `path` names it in messages.
Result<std::shared_ptr<MappedFile>> map_input_file(const InputFile& file, const std::string& path);

// Drops this process's resident pages of [data, data + size) when the range lies inside a live
// file mapping (MADV_DONTNEED on the whole pages within it), so a weight read once does not
// stay in the process's memory; the page cache keeps them. A later read faults the file's
// bytes back in, so this is only safe for bytes nobody wrote to in place (a private mapping
// loses such writes). Anything else (heap memory, a range outside every mapping) is left
// alone. Returns the bytes released.
size_t release_mapped_pages(const void* data, size_t size);

// The directory part of a path ("" for a bare file name), used to resolve external data.
std::string parent_directory(const std::string& path);

}  // namespace ember::formats
