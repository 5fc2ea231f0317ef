// Round trips of real exports: the shared trained models (PyTorch dynamo and torchscript
// exports, onnxruntime's quantized outputs) and the ONNX conformance models.
#include <doctest/doctest.h>

#include <google/protobuf/util/message_differencer.h>

#include <filesystem>

#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "formats/tensor_pb.h"
#include "tests/unit/formats/format_test_util.h"

using namespace ember;
using namespace ember::formats;

namespace {

std::vector<std::string> onnx_files_in(const std::string& dir) {
  std::vector<std::string> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".onnx") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

bool uses_typed_data(const onnx::GraphProto& g) {
  for (const auto& t : g.initializer())
    if (t.float_data_size() || t.int32_data_size() || t.int64_data_size() || t.double_data_size() ||
        t.uint64_data_size() || t.has_data_location())
      return true;
  return false;
}

void check_same_graph(const ir::Graph& a, const ir::Graph& b) {
  REQUIRE(a.initializer_order == b.initializer_order);
  for (const auto& name : a.initializer_order) {
    CAPTURE(name);
    CHECK(a.find_initializer(name)->same_content(*b.find_initializer(name)));
  }
  REQUIRE(a.nodes.size() == b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const ir::Node &x = a.nodes[i], &y = b.nodes[i];
    CHECK(x.name == y.name);
    CHECK(x.op_type == y.op_type);
    CHECK(x.domain == y.domain);
    CHECK(x.inputs == y.inputs);
    CHECK(x.outputs == y.outputs);
    CHECK(x.unknown_fields == y.unknown_fields);
    REQUIRE(x.attributes.size() == y.attributes.size());
    for (size_t k = 0; k < x.attributes.size(); ++k) {
      CHECK(x.attributes[k].name == y.attributes[k].name);
      CHECK(x.attributes[k].kind == y.attributes[k].kind);
      CHECK(x.attributes[k].ints == y.attributes[k].ints);
      CHECK(x.attributes[k].i == y.attributes[k].i);
      if (x.attributes[k].kind == ir::AttrKind::kTensor) CHECK(x.attributes[k].t.same_content(y.attributes[k].t));
    }
  }
}

}  // namespace

TEST_CASE("onnx: the shared real models survive load -> save -> load unchanged") {
  const std::string shared = EMBER_SHARED_DIR;
  auto files = onnx_files_in(shared + "/models");
  for (const auto& f : onnx_files_in(shared + "/models/peer")) files.push_back(f);
  if (files.empty()) EMBER_SKIP("no models under " << shared << "/models");
  for (const auto& path : files) {
    CAPTURE(path);
    auto first = load_onnx(path);
    REQUIRE_MESSAGE(first.ok(), first.status().message());
    auto bytes = serialize_onnx(*first);
    REQUIRE(bytes.ok());
    auto second = load_onnx_from_bytes(bytes->data(), bytes->size(), "", path + " (re-serialized)");
    REQUIRE_MESSAGE(second.ok(), second.status().message());
    check_same_graph(first->graph, second->graph);
    CHECK(*serialize_onnx(*second) == *bytes);
    // Where the original already stores raw_data, the re-serialized proto is equivalent to it
    // field by field, including fields newer than onnx 1.12 (IR 10 metadata_props).
    onnx::ModelProto original, rewritten;
    REQUIRE(original.ParseFromString(test::read_bytes(path)));
    REQUIRE(rewritten.ParseFromString(*bytes));
    if (!uses_typed_data(original.graph()))
      CHECK(google::protobuf::util::MessageDifferencer::Equivalent(original, rewritten));
  }
}

TEST_CASE("onnx: every ONNX conformance model loads and round trips") {
  const std::string root = "/usr/share/libonnx-testdata/data";
  if (!std::filesystem::is_directory(root)) {
    MESSAGE("libonnx-testdata is not installed: skipped");
    return;
  }
  size_t models = 0, unsupported_models = 0, tensors = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = entry.path().string();
    if (entry.path().filename() == "model.onnx") {
      CAPTURE(path);
      auto m = load_onnx(path);
      if (!m.ok()) {
        // Only types Ember does not model (float8, complex) may be refused, and only as such.
        CHECK_MESSAGE(m.status().code() == StatusCode::kUnsupported, m.status().message());
        ++unsupported_models;
        continue;
      }
      auto bytes = serialize_onnx(*m);
      REQUIRE(bytes.ok());
      auto again = load_onnx_from_bytes(bytes->data(), bytes->size(), "", path);
      REQUIRE_MESSAGE(again.ok(), again.status().message());
      CHECK(*serialize_onnx(*again) == *bytes);
      ++models;
    } else if (entry.path().extension() == ".pb") {
      // Sequence and optional data sets are other protos in .pb files: only no crash is asked there.
      auto t = read_tensor_pb(path);
      if (t.ok()) ++tensors;
      else CHECK(!t.status().message().empty());
    }
  }
  MESSAGE(models << " conformance models round-tripped, " << unsupported_models << " refused as unsupported, "
                 << tensors << " .pb tensors read");
  CHECK(models > 500);
  CHECK(tensors > 2000);
}
