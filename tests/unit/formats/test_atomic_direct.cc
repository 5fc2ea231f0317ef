// write_file_atomic with AtomicWriteOptions::direct: O_DIRECT whole blocks plus a buffered
// tail give the same file as the buffered writer, for sizes around the block and buffer
// boundaries, written in pieces of any size; on tmpfs (no or partial O_DIRECT) as well.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/atomic_file.h"

namespace ember {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void check_direct_writes(const std::string& dir) {
  const std::string path = dir + "/ember-direct-" + std::to_string(getpid()) + ".bin";
  for (size_t size : {size_t(0), size_t(1), size_t(4095), size_t(4096), size_t(3 * 4096 + 123), size_t(8 << 20),
                      size_t((8 << 20) + 4097), size_t((17 << 20) + 5)}) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = char(i * 131 + (i >> 12));
    formats::AtomicWriteOptions options;
    options.direct = true;
    const Status s = formats::write_file_atomic(
        path,
        [&](std::ostream& out) {
          // Pieces of changing sizes, as the external-data writer's padding and tensors come.
          size_t at = 0, piece = 1;
          while (at < size) {
            const size_t n = std::min(piece, size - at);
            out.write(bytes.data() + at, std::streamsize(n));
            at += n;
            piece = piece * 7 + 3;
            if (piece > (size_t(5) << 20)) piece = 1;
          }
          return Status::Ok();
        },
        options);
    INFO(dir << ", " << size << " bytes");
    REQUIRE(s.ok());
    CHECK(read_all(path) == bytes);
  }
  std::filesystem::remove(path);
}

TEST_CASE("write_file_atomic direct: the same bytes as written, on disk and on tmpfs") {
  check_direct_writes(std::filesystem::temp_directory_path().string());
  if (std::filesystem::is_directory("/dev/shm")) check_direct_writes("/dev/shm");
}

}  // namespace
}  // namespace ember
