// PackStore: the weights kernels pack at load time, kept from one process to the next so that
// loading a model does not repack every weight (issue 19).
//
// A kernel asks the store for what it would pack, under a key naming the node's output and the
// packing ("int4:<output>"). A hit is a view of a cache image (a memory-mapped file that the
// caller verified against the model files and the CPU); the kernel then never reads its source
// weights, so their pages are not touched and resident memory is the packed weights once. A
// miss is packed as before and recorded; the caller writes a new image after the interpreter is
// created (serialize()).
//
// Image layout (little-endian u64 fields, all offsets from the image start):
//   "EMBERPK1" | image bytes | identity length | identity | entry count |
//   per entry: key length | key | offset | bytes   ... then each entry's bytes, 64-byte aligned
// The identity (chosen by the caller: model files, ISA level, pack format version) must match
// for an image to be adopted; every length and offset is checked against the image size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "ir/status.h"
#include "runtime/weight_arena.h"

namespace ember::runtime {

class PackStore {
 public:
  // Parses an image kept alive by `owner`. False (and no entries) when the image was written
  // for another identity; invalid_input when it is damaged (truncated, offsets out of range).
  Result<bool> adopt(std::shared_ptr<uint8_t> owner, const uint8_t* image, size_t bytes, const std::string& identity);

  // The bytes stored under `key` (null when absent), as a view that keeps the image mapped.
  ArenaPtr<uint8_t> find(const std::string& key, size_t* bytes) const;

  // A packing made on a miss: its parts are written one after the other under `key`. The
  // parts' memory must stay alive until serialize() (the kernels hold it). Thread-safe.
  struct Part {
    const void* data = nullptr;
    size_t bytes = 0;
  };
  void record(const std::string& key, std::vector<Part> parts);

  size_t hits() const { return hits_; }
  size_t misses() const { return recorded_.size(); }
  void count_hit() { ++hits_; }

  // A new image of every adopted entry still in use and every recorded one, under `identity`.
  Status serialize(const std::string& identity, std::ostream& out) const;

 private:
  struct Entry {
    const uint8_t* data = nullptr;
    size_t bytes = 0;
  };
  std::shared_ptr<uint8_t> owner_;
  std::map<std::string, Entry> adopted_;
  std::map<std::string, std::vector<Part>> recorded_;
  mutable std::mutex mutex_;
  size_t hits_ = 0;
};

}  // namespace ember::runtime
