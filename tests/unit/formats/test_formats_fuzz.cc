// Truncation and bit-flip fuzzing of the readers. The readers must return an error or a valid
// result, never crash; CI runs this under AddressSanitizer and UBSan.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "formats/npy.h"
#include "formats/npz.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "formats/tensor_pb.h"
#include "ir/verifier.h"
#include "tests/unit/formats/format_test_util.h"

using namespace ember;
using namespace ember::formats;

namespace {

// Offsets spread over the whole input, plus extra ones in the head and tail where the
// structure lives (the middle of a model is mostly weight bytes).
std::vector<size_t> fuzz_offsets(size_t size, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> offsets;
  if (size == 0) return offsets;
  const size_t head = std::min<size_t>(size, 4096), tail = std::min<size_t>(size, 2048);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t r = rng();
    if (i % 3 == 0) offsets.push_back(r % size);
    else if (i % 3 == 1) offsets.push_back(r % head);
    else offsets.push_back(size - 1 - r % tail);
  }
  return offsets;
}

// `load` returns true when it accepted the bytes; accepted results must be valid.
template <class Load>
void fuzz_bytes(std::string bytes, const std::string& label, Load&& load) {
  size_t accepted = 0;
  for (size_t off : fuzz_offsets(bytes.size(), 60, bytes.size())) {
    accepted += load(bytes.data(), off);  // truncated at `off`
    const char saved = bytes[off];
    bytes[off] = static_cast<char>(saved ^ (1 << (off % 8)));
    accepted += load(bytes.data(), bytes.size());
    bytes[off] = static_cast<char>(saved ^ 0xff);
    accepted += load(bytes.data(), bytes.size());
    bytes[off] = saved;
  }
  MESSAGE(label << ": " << accepted << " of 180 damaged inputs were still accepted");
}

void fuzz_model(const std::string& bytes, const std::string& label, const std::string& base_dir) {
  fuzz_bytes(bytes, label, [&](const char* data, size_t size) {
    auto m = load_onnx_from_bytes(data, size, base_dir, label);
    if (!m.ok()) {
      CHECK(!m.status().message().empty());
      return false;
    }
    CHECK(ir::verify_model(*m).ok());
    auto again = serialize_onnx(*m);
    CHECK_MESSAGE(again.ok(), again.status().message());
    return true;
  });
}

}  // namespace

TEST_CASE("fuzz: damaged ONNX models are rejected or loaded, never crash") {
  test::TempDir dir;  // empty: external-data paths created by bit flips resolve to nothing
  auto in_memory = serialize_onnx(test::make_test_model());
  REQUIRE(in_memory.ok());
  fuzz_model(*in_memory, "in-memory test model", dir.path());

  const std::filesystem::path samples = std::filesystem::path(EMBER_SOURCE_DIR) / "samples";
  size_t sample_count = 0;
  if (std::filesystem::is_directory(samples))
    for (const auto& entry : std::filesystem::directory_iterator(samples))
      if (entry.path().extension() == ".onnx") {
        fuzz_model(test::read_bytes(entry.path().string()), entry.path().filename().string(), dir.path());
        ++sample_count;
      }
  if (sample_count == 0) MESSAGE("no samples/*.onnx yet: fuzzed only the in-memory model");
}

TEST_CASE("fuzz: damaged .npy, .npz and .pb files are rejected or read, never crash") {
  test::TempDir dir;
  const Tensor t = Tensor::from_vector<int64_t>({3, 5}, std::vector<int64_t>(15, 7));
  auto npy = npy_bytes(t);
  REQUIRE(npy.ok());
  fuzz_bytes(*npy, "npy", [](const char* data, size_t size) {
    auto r = parse_npy(data, size, "fuzz.npy");
    if (r.ok()) CHECK(r->nbytes() == storage_bytes(r->dtype(), r->numel()));
    return r.ok();
  });

  REQUIRE(write_npz(dir.file("a.npz"), {{"x", t}, {"y", Tensor::from_vector<float>({2}, {1, 2})}}).ok());
  const std::string file = dir.file("fuzz.npz");
  fuzz_bytes(test::read_bytes(dir.file("a.npz")), "npz", [&](const char* data, size_t size) {
    test::write_bytes(file, std::string(data, size));
    return read_npz(file).ok();
  });

  REQUIRE(write_tensor_pb(dir.file("t.pb"), "input_0", t).ok());
  const std::string pb = dir.file("fuzz.pb");
  fuzz_bytes(test::read_bytes(dir.file("t.pb")), "tensor pb", [&](const char* data, size_t size) {
    test::write_bytes(pb, std::string(data, size));
    return read_tensor_pb(pb).ok();
  });
}
