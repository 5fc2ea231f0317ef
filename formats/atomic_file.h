// Atomic file output: everything Ember writes (models, external data, .npy/.npz, manifests,
// reports) goes to a temporary file beside the target, is flushed to disk, then renamed over
// the target. A failure at any point removes the temporary file, so a reader never sees a
// partial output and an old file is either kept whole or replaced whole. Only a regular file is
// ever replaced: an existing device, FIFO, socket or symlink at the target is refused.
// Temporary files are named and cleaned as temp_files.h describes.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "ir/status.h"

namespace ember::formats {

// `writer` streams the contents; a non-ok Status or a failed stream aborts the write.
// An unwritable or missing directory, or a target that is a directory or another non-regular
// file, is invalid_input naming the path.
Status write_file_atomic(const std::string& path, const std::function<Status(std::ostream&)>& writer);

struct AtomicWriteOptions {
  // Write with O_DIRECT (whole 4 KB blocks from an aligned buffer, the tail without): for
  // large files, whose bytes then skip the page cache (no copy into new cache pages, which is
  // most of the cost of writing a gigabyte on a VM); a later read comes from the disk. File
  // systems without O_DIRECT (tmpfs) get the buffered write.
  bool direct = false;
};
Status write_file_atomic(const std::string& path, const std::function<Status(std::ostream&)>& writer,
                         const AtomicWriteOptions& options);

Status write_string_atomic(const std::string& path, std::string_view contents);

// Whether write_file_atomic could write `path`, checked before long work so that a bad output
// path fails at once: its folder exists and is writable, and the target, if any, is a regular
// file. Invalid_input naming the path; the write itself can still fail (a full disk).
Status check_output_path(const std::string& path);

}  // namespace ember::formats
