// The runtime's plumbing: TensorPool (reuse by lifetime), WeightArena (aligned, zeroed,
// chunks released with their last user) and parallel_for (disjoint chunks covering the range).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "runtime/parallel.h"
#include "runtime/tensor_pool.h"
#include "runtime/weight_arena.h"
#include "tests/unit/test_support.h"

namespace ember::runtime_infra_test {

TEST_CASE("tensor pool: a released buffer is reused by the next tensor of its size class") {
  runtime::TensorPool pool;
  const void* first = nullptr;
  {
    Tensor a = pool.allocate(DType::kF32, {256});
    first = a.data<float>();
    CHECK(pool.bytes_reserved() >= 256 * 4);
  }
  Tensor b = pool.allocate(DType::kF32, {250});  // same size class
  CHECK(b.data<float>() == first);
  Tensor c = pool.allocate(DType::kF32, {256});  // a is in use as b: new storage
  CHECK(c.data<float>() != first);
  const size_t reserved = pool.bytes_reserved();
  CHECK(pool.peak_bytes_in_use() >= 250 * 4 + 256 * 4);
  {
    // A view keeps its bytes alive: the storage returns only when the view dies too.
    Tensor view = b.reshaped({10, 25});
    b = Tensor();
    Tensor d = pool.allocate(DType::kF32, {250});
    CHECK(d.data<float>() != view.data<float>());
  }
  CHECK(pool.bytes_reserved() >= reserved);
}

TEST_CASE("weight arena: 64-byte aligned, zeroed, unmapped when the last user goes") {
  // mapped_bytes() counts every arena of the process: compare with what was mapped before.
  const size_t before = runtime::WeightArena().mapped_bytes();
  {
    runtime::WeightArena arena;
    std::vector<runtime::ArenaPtr<uint8_t>> blocks;
    for (size_t bytes : {1, 63, 64, 1000, 4096, 100000}) {
      blocks.push_back(arena.allocate(bytes));
      const auto* p = blocks.back().get();
      CHECK(reinterpret_cast<uintptr_t>(p) % runtime::WeightArena::kAlignment == 0);
      bool zero = true;
      for (size_t i = 0; i < bytes; ++i) zero = zero && p[i] == 0;
      CHECK(zero);
    }
    // Distinct allocations never overlap.
    for (size_t i = 1; i < blocks.size(); ++i) CHECK(blocks[i].get() != blocks[i - 1].get());
    auto big = arena.allocate_array<float>(size_t{8} << 20);  // 32 MB: its own mapping
    big.get()[(size_t{8} << 20) - 1] = 1.0f;
    CHECK(arena.mapped_bytes() >= before + (size_t{32} << 20));
    blocks.clear();
    big.reset();
    // Only the chunk new allocations are carved from stays mapped while the arena lives.
    CHECK(arena.mapped_bytes() == before + runtime::WeightArena::kChunkBytes);
  }
  CHECK(runtime::WeightArena().mapped_bytes() == before);
}

TEST_CASE("parallel_for: disjoint chunks that cover the range, inline when small") {
  for (int threads : {1, 2}) {
    test::ThreadsScope scope(threads);
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{100003}}) {
      CAPTURE(n);
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::mutex m;
      std::vector<std::pair<int64_t, int64_t>> chunks;
      runtime::parallel_for(n, 16, [&](int64_t begin, int64_t end) {
        {
          std::lock_guard<std::mutex> lock(m);
          chunks.push_back({begin, end});
        }
        for (int64_t i = begin; i < end; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) REQUIRE(hits[size_t(i)] == 1);
      for (const auto& [b, e] : chunks) CHECK(b < e);
      if (n < 32) CHECK(chunks.size() <= 1);  // below two minimum chunks: one inline call
    }
  }
}

}  // namespace ember::runtime_infra_test
