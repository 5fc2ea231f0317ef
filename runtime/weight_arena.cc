#include "runtime/weight_arena.h"

#include <sys/mman.h>

#include <atomic>
#include <new>

namespace ember::runtime {
namespace {

std::atomic<size_t> g_mapped_bytes{0};

size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// Maps `bytes` (a multiple of the huge page size) at a 2 MB aligned address: over-map by one
// huge page and trim both ends, since mmap only promises 4 KB alignment.
std::shared_ptr<uint8_t> map_chunk(size_t bytes) {
  const size_t span = bytes + WeightArena::kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = round_up(start, WeightArena::kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + span, used_end = aligned + bytes;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  auto* base = reinterpret_cast<uint8_t*>(aligned);
  // Advice only: without transparent huge pages the chunk still works with 4 KB pages.
  madvise(base, bytes, MADV_HUGEPAGE);
  g_mapped_bytes += bytes;
  return std::shared_ptr<uint8_t>(base, [bytes](uint8_t* p) {
    munmap(p, bytes);
    g_mapped_bytes -= bytes;
  });
}

}  // namespace

ArenaPtr<uint8_t> WeightArena::allocate(size_t bytes) {
  const size_t size = round_up(bytes == 0 ? 1 : bytes, kAlignment);
  if (size > kChunkBytes / 4) {
    std::shared_ptr<uint8_t> own = map_chunk(round_up(size, kHugePage));
    return own;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!chunk_ || used_ + size > capacity_) {
    chunk_ = map_chunk(kChunkBytes);
    used_ = 0;
    capacity_ = kChunkBytes;
  }
  uint8_t* p = chunk_.get() + used_;
  used_ += size;
  return ArenaPtr<uint8_t>(chunk_, p);
}

size_t WeightArena::mapped_bytes() const { return g_mapped_bytes.load(); }

WeightArena& weight_arena() {
  static WeightArena* arena = new WeightArena();  // never destroyed: kernels may outlive statics
  return *arena;
}

}  // namespace ember::runtime
