// WeightArena: where kernels keep the weights they pack at load time (int8 panels, int4
// blocks, column sums). Allocations are 64-byte aligned and carved from large chunks that are
// mapped 2 MB aligned and advised for transparent huge pages, so a GEMV streaming a layer's
// weights walks few TLB entries. Each allocation holds its chunk alive, so a chunk is unmapped
// when the last kernel that packed into it is destroyed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ember::runtime {

// A view of arena memory that keeps its chunk mapped.
template <class T>
using ArenaPtr = std::shared_ptr<T>;

class WeightArena {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kChunkBytes = size_t{16} << 20;  // allocations above a quarter get their own mapping

  WeightArena() = default;
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;

  // Zero-filled bytes (fresh mappings are zero). Throws std::bad_alloc when memory runs out,
  // like operator new. Thread-safe.
  ArenaPtr<uint8_t> allocate(size_t bytes);

  template <class T>
  ArenaPtr<T> allocate_array(size_t count) {
    ArenaPtr<uint8_t> raw = allocate(count * sizeof(T));
    T* typed = reinterpret_cast<T*>(raw.get());
    return ArenaPtr<T>(std::move(raw), typed);
  }

  // Bytes mapped by chunks still alive (for tests and reports).
  size_t mapped_bytes() const;

 private:
  std::mutex mutex_;
  std::shared_ptr<uint8_t> chunk_;  // the chunk new allocations are carved from
  size_t used_ = 0, capacity_ = 0;
};

// The process-wide arena the packing kernels use.
WeightArena& weight_arena();

}  // namespace ember::runtime
