#include <doctest/doctest.h>

#include <filesystem>

#include "formats/npy.h"
#include "formats/npz.h"
#include "formats/tensor_pb.h"
#include "tests/unit/formats/format_test_util.h"

using namespace ember;
using namespace ember::formats;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Builds an .npy file by hand, the way NumPy lays it out, so the reader is tested against
// the format rather than against our own writer.
std::string handmade_npy(const std::string& dict, const std::string& payload, int version = 1) {
  std::string header = dict;
  const size_t preamble = version == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + char(version) + '\0';
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  if (version != 1) out += std::string(2, '\0');
  return out + header + payload;
}

}  // namespace

TEST_CASE("npy: round trip of every supported dtype and rank") {
  test::TempDir dir;
  std::vector<Tensor> tensors = {
      Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, -6}),
      Tensor::from_vector<double>({1}, {0.1}),
      Tensor::from_vector<int8_t>({4}, {-128, -1, 0, 127}),
      Tensor::from_vector<uint8_t>({2, 1, 2}, {0, 1, 254, 255}),
      Tensor::from_vector<int16_t>({2}, {-300, 300}),
      Tensor::from_vector<uint16_t>({1}, {65535}),
      Tensor::from_vector<int32_t>({2}, {-7, 1 << 30}),
      Tensor::from_vector<uint32_t>({1}, {4000000000u}),
      Tensor::from_vector<int64_t>({0, 4}, {}),
      Tensor::from_vector<uint64_t>({1}, {~uint64_t{0}}),
      Tensor::from_vector<bool>({3}, {true, false, true}),
      Tensor::scalar<float>(3.5f),
      Tensor::zeros(DType::kF16, {2}),
  };
  for (const Tensor& t : tensors) {
    CAPTURE(dtype_name(t.dtype()));
    CAPTURE(shape_to_string(t.shape()));
    const std::string path = dir.file("t.npy");
    REQUIRE(write_npy(path, t).ok());
    const std::string bytes = test::read_bytes(path);
    CHECK(bytes == *npy_bytes(t));
    CHECK((bytes.size() - t.nbytes()) % 64 == 0);  // data starts 64-byte aligned
    auto back = read_npy(path);
    REQUIRE_MESSAGE(back.ok(), back.status().message());
    CHECK(back->same_content(t));
  }
  CHECK(npy_bytes(Tensor::zeros(DType::kI4, {2})).status().code() == StatusCode::kUnsupported);
  CHECK(!write_npy(dir.file("s.npy"), Tensor::strings({1}, {"x"})).ok());
  CHECK(!std::filesystem::exists(dir.file("s.npy")));
}

TEST_CASE("npy: reads NumPy's own layouts and rejects what it cannot hold") {
  const std::string payload = std::string("\x01\x00\x00\x00\x02\x00\x00\x00", 8);
  const std::string v1 = handmade_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", payload);
  auto t = parse_npy(v1.data(), v1.size(), "v1");
  REQUIRE(t.ok());
  CHECK(t->data<int32_t>()[1] == 2);
  const std::string v2 = handmade_npy("{\"shape\": (1, 2), \"descr\": \"<i4\", \"fortran_order\": False}", payload, 2);
  t = parse_npy(v2.data(), v2.size(), "v2");
  REQUIRE_MESSAGE(t.ok(), t.status().message());
  CHECK(t->shape() == Shape{1, 2});

  auto error_of = [&](const std::string& dict, const std::string& data) {
    const std::string bytes = handmade_npy(dict, data);
    auto r = parse_npy(bytes.data(), bytes.size(), "bad.npy");
    REQUIRE(!r.ok());
    CHECK(contains(r.status().message(), "bad.npy"));
    return r.status();
  };
  CHECK(error_of("{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", payload).code() == StatusCode::kUnsupported);
  CHECK(error_of("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", payload).code() == StatusCode::kUnsupported);
  CHECK(error_of("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", payload).code() == StatusCode::kUnsupported);
  CHECK(error_of("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", payload).code() == StatusCode::kInvalidInput);
  CHECK(error_of("{'descr': '<i4', 'fortran_order': False, 'shape': (-2,), }", payload).code() == StatusCode::kInvalidInput);
  CHECK(error_of("{'descr': '<i4', 'fortran_order': False, }", payload).code() == StatusCode::kInvalidInput);
  CHECK(error_of("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", payload).code() ==
        StatusCode::kInvalidInput);
  CHECK(error_of("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'x': 1}", payload).code() ==
        StatusCode::kInvalidInput);
  CHECK(error_of("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x07").code() ==
        StatusCode::kInvalidInput);
  CHECK(error_of("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "").code() ==
        StatusCode::kInvalidInput);
  CHECK(!parse_npy("\x93NUMPY", 6, "short.npy").ok());
  CHECK(!parse_npy("", 0, "empty.npy").ok());
  test::TempDir dir;
  CHECK(contains(read_npy(dir.path()).status().message(), "directory"));
}

TEST_CASE("npz: round trip, stored and deflated archives, errors") {
  test::TempDir dir;
  std::map<std::string, Tensor> tensors = {
      {"image", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})},
      {"labels", Tensor::from_vector<int64_t>({2}, {3, 9})},
  };
  const std::string path = dir.file("d.npz");
  REQUIRE(write_npz(path, tensors).ok());
  auto back = read_npz(path);
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  REQUIRE(back->size() == 2);
  CHECK(back->at("image").same_content(tensors["image"]));
  CHECK(back->at("labels").same_content(tensors["labels"]));

  REQUIRE(write_npz(dir.file("empty.npz"), {}).ok());
  auto none = read_npz(dir.file("empty.npz"));
  REQUIRE_MESSAGE(none.ok(), none.status().message());
  CHECK(none->empty());

  CHECK(!write_npz(dir.file("bad.npz"), {{"q", Tensor::zeros(DType::kI4, {2})}}).ok());
  CHECK(!std::filesystem::exists(dir.file("bad.npz")));
  test::write_bytes(dir.file("junk.npz"), "PK this is not a zip");
  auto junk = read_npz(dir.file("junk.npz"));
  CHECK(junk.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(junk.status().message(), "junk.npz"));
  CHECK(!read_npz(dir.file("missing.npz")).ok());

  // Real archives written by NumPy (np.savez / np.savez_compressed).
  for (const std::string& root : {std::string(EMBER_SOURCE_DIR) + "/samples", std::string(EMBER_SHARED_DIR) + "/data"}) {
    if (!std::filesystem::is_directory(root)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      const std::string p = entry.path().string();
      if (entry.path().extension() == ".npz") {
        auto r = read_npz(p);
        CHECK_MESSAGE(r.ok(), r.status().message());
        if (r.ok()) CHECK(!r->empty());
      } else if (entry.path().extension() == ".npy") {
        auto r = read_npy(p);
        CHECK_MESSAGE(r.ok(), r.status().message());
        if (r.ok()) CHECK(r->dtype() == DType::kI64);
      }
    }
  }
}

TEST_CASE("tensor pb: round trip and ONNX test data") {
  test::TempDir dir;
  const Tensor t = Tensor::from_vector<float>({1, 3}, {0.5f, -1, 2});
  REQUIRE(write_tensor_pb(dir.file("input_0.pb"), "x", t).ok());
  auto back = read_tensor_pb(dir.file("input_0.pb"));
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  CHECK(back->name == "x");
  CHECK(back->tensor.same_content(t));
  REQUIRE(write_tensor_pb(dir.file("s.pb"), "s", Tensor::strings({2}, {"a", "b"})).ok());
  auto s = read_tensor_pb(dir.file("s.pb"));
  REQUIRE(s.ok());
  CHECK(s->tensor.string_values() == std::vector<std::string>{"a", "b"});
  CHECK(!read_tensor_pb(dir.file("nope.pb")).ok());
  test::write_bytes(dir.file("junk.pb"), "\xff\xff\xff\xff\xff");
  CHECK(read_tensor_pb(dir.file("junk.pb")).status().code() == StatusCode::kInvalidInput);

  // The conformance data shipped by libonnx-testdata, when installed.
  const std::string relu = "/usr/share/libonnx-testdata/data/node/test_relu/test_data_set_0";
  for (const char* name : {"input_0.pb", "output_0.pb"}) {
    if (!std::filesystem::exists(relu + "/" + name)) {
      MESSAGE("onnx test data not installed; skipped");
      break;
    }
    auto r = read_tensor_pb(relu + "/" + name);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->tensor.dtype() == DType::kF32);
    CHECK(r->tensor.numel() == 60);
  }
}
