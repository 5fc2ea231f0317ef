// release_mapped_pages (formats/mapped_file.h): the whole pages of a range inside a live file
// mapping leave the process (resident set) and read back the file's bytes; anything else is
// left alone.
#include <doctest/doctest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/mapped_file.h"

namespace ember {
namespace {

// This process's resident pages (/proc/self/statm); mincore would report the page cache.
long resident_pages() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident;
}

TEST_CASE("release_mapped_pages: drops a mapped range's whole pages, which read back the file's bytes") {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const std::string path = (std::filesystem::temp_directory_path() / ("ember-release-" + std::to_string(getpid()))).string();
  constexpr size_t kPages = 4096;
  std::vector<uint8_t> bytes(page * kPages);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 7 + 3);
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    std::fclose(f);
  }
  auto mapped = formats::map_file(path);
  REQUIRE(mapped.ok());
  const uint8_t* data = (*mapped)->data();
  bytes.assign(bytes.size(), 0);  // the comparison copy stays resident: only the mapping changes
  bytes.shrink_to_fit();
  std::vector<uint8_t> expected(page * kPages);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = uint8_t(i * 7 + 3);
  CHECK(std::memcmp(data, expected.data(), expected.size()) == 0);  // every page touched
  const long before = resident_pages();
  // From the middle of page 1 to the middle of the last page: the partial pages stay.
  const size_t released = formats::release_mapped_pages(data + page + page / 2, page * (kPages - 2));
  CHECK(released == (kPages - 3) * page);
  const long after = resident_pages();
  if (before > 0 && after >= 0) CHECK(before - after > long(kPages * 3 / 4));
  CHECK(std::memcmp(data, expected.data(), expected.size()) == 0);  // read back from the file
  // Outside every mapping (heap memory, a range running past the mapping): nothing happens.
  std::vector<uint8_t> heap(page * 4, 0x5a);
  CHECK(formats::release_mapped_pages(heap.data(), heap.size()) == 0);
  CHECK(heap[page * 2] == 0x5a);
  CHECK(formats::release_mapped_pages(data + page, bytes.size()) == 0);
  CHECK(formats::release_mapped_pages(data, 0) == 0);
  mapped->reset();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ember
