// PackStore (runtime/pack_store.h): images round-trip, another identity is not adopted, damaged
// images are errors; INT4 and INT8 weights read back from an image equal the packed ones.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <sstream>

#include "runtime/int4/int4_format.h"
#include "runtime/pack_store.h"
#include "runtime/qgemm/qgemm.h"

using namespace ember::runtime;

namespace {

// An image in heap memory, as a mapped file would hold it.
struct Image {
  std::shared_ptr<uint8_t> owner;
  size_t bytes = 0;
};

Image serialized(const PackStore& store, const std::string& identity) {
  std::ostringstream out;
  REQUIRE(store.serialize(identity, out).ok());
  const std::string s = out.str();
  Image image;
  image.bytes = s.size();
  image.owner = std::shared_ptr<uint8_t>(new uint8_t[s.size()], std::default_delete<uint8_t[]>());
  std::memcpy(image.owner.get(), s.data(), s.size());
  return image;
}

int4::Int4Source random_source(int64_t K, int64_t N, bool zeros) {
  std::mt19937 rng(7);
  int4::Int4Source s;
  s.K = K, s.N = N;
  for (int64_t i = 0; i < K * N; ++i) s.codes.push_back(uint8_t(rng() % 16));
  for (int64_t i = 0; i < N * s.source_blocks(); ++i) {
    s.scales.push_back(0.01f + float(rng() % 100) * 1e-4f);
    if (zeros) s.zeros.push_back(uint8_t(rng() % 16));
  }
  return s;
}

}  // namespace

TEST_CASE("PackStore: an image round-trips its entries, 64-byte aligned") {
  PackStore store;
  const std::string a = "first entry", b1 = "second ", b2 = "in two parts";
  store.record("a", {{a.data(), a.size()}});
  store.record("b", {{b1.data(), b1.size()}, {b2.data(), b2.size()}});
  CHECK(store.misses() == 2);
  Image image = serialized(store, "model X; isa avx2");
  PackStore loaded;
  auto adopted = loaded.adopt(image.owner, image.owner.get(), image.bytes, "model X; isa avx2");
  REQUIRE(adopted.ok());
  CHECK(*adopted);
  size_t bytes = 0;
  auto entry = loaded.find("b", &bytes);
  REQUIRE(entry);
  CHECK(std::string(reinterpret_cast<const char*>(entry.get()), bytes) == b1 + b2);
  CHECK(reinterpret_cast<uintptr_t>(entry.get()) % 64 == reinterpret_cast<uintptr_t>(image.owner.get()) % 64);
  CHECK_FALSE(loaded.find("c", &bytes));
}

TEST_CASE("PackStore: an image for another identity is not adopted, a damaged one is an error") {
  PackStore store;
  const std::string a(1000, 'x');
  store.record("a", {{a.data(), a.size()}});
  Image image = serialized(store, "model X");
  PackStore loaded;
  auto other = loaded.adopt(image.owner, image.owner.get(), image.bytes, "model Y");
  REQUIRE(other.ok());
  CHECK_FALSE(*other);
  size_t bytes = 0;
  CHECK_FALSE(loaded.find("a", &bytes));
  // Truncated: the recorded size no longer matches.
  CHECK_FALSE(loaded.adopt(image.owner, image.owner.get(), image.bytes - 64, "model X").ok());
  // Not an image at all.
  CHECK_FALSE(loaded.adopt(image.owner, image.owner.get() + 64, image.bytes - 64, "model X").ok());
  // Every cut of the header is a clean error, never a read past the end.
  for (size_t cut = 0; cut < 100; ++cut) {
    std::vector<uint8_t> copy(image.owner.get(), image.owner.get() + cut);
    const uint64_t size = cut;
    if (cut >= 16) std::memcpy(copy.data() + 8, &size, 8);
    CHECK_FALSE(loaded.adopt(nullptr, copy.data(), copy.size(), "model X").ok());
  }
}

TEST_CASE("Int4Weights: weights read back from an image give the packed weights' products") {
  for (bool zeros : {false, true}) {
    const int64_t K = 96, N = 40;
    int4::Int4Weights packed = int4::Int4Weights::pack(random_source(K, N, zeros));
    PackStore store;
    store.record("w", packed.image_parts());
    Image image = serialized(store, "id");
    PackStore loaded;
    REQUIRE(loaded.adopt(image.owner, image.owner.get(), image.bytes, "id").ok());
    size_t bytes = 0;
    auto entry = loaded.find("w", &bytes);
    REQUIRE(entry);
    CHECK_FALSE(int4::Int4Weights::from_image(entry, bytes, K, N + 1).ok());
    auto view = int4::Int4Weights::from_image(entry, bytes, K, N);
    REQUIRE(view.ok());
    std::vector<float> x(size_t(3 * K));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i));
    int4::Int4Activations act;
    act.quantize(x.data(), 3, K, packed.scale_multiplier());
    std::vector<float> y1(size_t(3 * N)), y2(size_t(3 * N));
    int4::int4_gemm(act, packed, nullptr, y1.data(), N);
    int4::int4_gemm(act, *view, nullptr, y2.data(), N);
    CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("PackedB: an int8 weight read back from an image has the packed weight's panels and sums") {
  for (bool with_zero_points : {false, true}) {
    const int64_t K = 37, N = 21;
    std::vector<uint8_t> b(size_t(K * N));
    for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 37 + 11);
    std::vector<int32_t> zps(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) zps[size_t(n)] = int32_t(100 + n);
    qgemm::PackedB packed = qgemm::PackedB::pack(b.data(), true, false, K, N, N, with_zero_points ? zps.data() : nullptr);
    PackStore store;
    store.record("w", packed.image_parts());
    Image image = serialized(store, "id");
    PackStore loaded;
    REQUIRE(loaded.adopt(image.owner, image.owner.get(), image.bytes, "id").ok());
    size_t bytes = 0;
    auto entry = loaded.find("w", &bytes);
    REQUIRE(entry);
    CHECK_FALSE(qgemm::PackedB::from_image(entry, bytes, K + 1, N).ok());
    auto view = qgemm::PackedB::from_image(entry, bytes, K, N);
    REQUIRE(view.ok());
    CHECK(view->has_int8_min() == packed.has_int8_min());
    CHECK((view->zero_points() != nullptr) == (packed.zero_points() != nullptr));
    for (int64_t n = 0; n < N; ++n) {
      CHECK(view->col_sums()[n] == packed.col_sums()[n]);
      if (packed.zero_points()) CHECK(view->zero_points()[n] == packed.zero_points()[n]);
      for (int64_t k = 0; k < K; ++k) CHECK(view->at(k, n) == packed.at(k, n));
    }
  }
}
