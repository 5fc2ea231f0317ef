// ExternalDataWriter: tensors handed over while the passes run keep their offsets, save_onnx
// appends the rest, and the saved model reads back the same whatever was handed over; a
// tensor the graph dropped makes the save write the file afresh; an abandoned or failed
// writer leaves nothing on disk.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "formats/external_data_writer.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "tests/unit/formats/format_test_util.h"

namespace ember::formats {
namespace {

// The test model plus float weights of 4 KB each, big enough to go to the data file.
ir::Model model_with_weights(int count) {
  ir::Model model = test::make_test_model();
  for (int i = 0; i < count; ++i) {
    std::vector<float> values(1024);
    for (size_t k = 0; k < values.size(); ++k) values[k] = float(i) + float(k) * 0.5f;
    model.graph.set_initializer("big" + std::to_string(i), Tensor::from_vector<float>({1024}, values));
  }
  return model;
}

SaveOptions external_options() {
  SaveOptions options;
  options.external_data = true;
  options.external_threshold = 8;
  return options;
}

// Every initializer of a's main graph, with the same bytes in b.
void check_same_initializers(const ir::Model& a, const ir::Model& b) {
  CHECK(a.graph.initializers.size() == b.graph.initializers.size());
  for (const auto& [name, tensor] : a.graph.initializers) {
    const Tensor* other = b.graph.find_initializer(name);
    REQUIRE_MESSAGE(other, name);
    CHECK_MESSAGE(tensor.same_content(*other), name);
  }
}

TEST_CASE("external data writer: handed-over tensors keep their offsets and the model reads back the same") {
  test::TempDir dir;
  REQUIRE(!dir.path().empty());
  const ir::Model model = model_with_weights(3);
  SaveOptions options = external_options();
  REQUIRE(save_onnx(model, dir.file("plain.onnx"), options).ok());

  auto writer = start_external_data(dir.file("m.onnx"), options);
  REQUIRE(writer.ok());
  // big2 first, then big0 twice (the same bytes: one place in the file); big1 is left to save.
  const auto first = (*writer)->append(*model.graph.find_initializer("big2"));
  REQUIRE(first.has_value());
  CHECK(*first == 0);
  const auto second = (*writer)->append(*model.graph.find_initializer("big0"));
  REQUIRE(second.has_value());
  CHECK(*second == 4096);
  CHECK((*writer)->append(*model.graph.find_initializer("big0")) == second);
  CHECK(!(*writer)->append(*model.graph.find_initializer("h")).has_value());  // under the threshold
  CHECK((*writer)->tensors() == 2);
  options.data_writer = writer->get();
  REQUIRE(save_onnx(model, dir.file("m.onnx"), options).ok());

  auto plain = load_onnx(dir.file("plain.onnx"));
  auto streamed = load_onnx(dir.file("m.onnx"));
  REQUIRE(plain.ok());
  REQUIRE_MESSAGE(streamed.ok(), streamed.status().message());
  check_same_initializers(*plain, *streamed);
  // Same bytes in another order: big2, big0, then the rest as the graph orders it.
  CHECK(std::filesystem::file_size(dir.file("m.onnx.data")) == std::filesystem::file_size(dir.file("plain.onnx.data")));
  CHECK(test::read_bytes(dir.file("m.onnx.data")).substr(0, 4096) == test::read_bytes(dir.file("plain.onnx.data")).substr(
                                                                          4096 * 2 + 64, 4096));
  CHECK(!std::filesystem::exists(dir.file("m.onnx.data.partial")));
  CHECK(dir.count_files() == 4);
}

TEST_CASE("external data writer: a tensor the graph dropped is not saved, the file is written afresh") {
  test::TempDir dir;
  REQUIRE(!dir.path().empty());
  ir::Model model = model_with_weights(2);
  SaveOptions options = external_options();
  auto writer = start_external_data(dir.file("m.onnx"), options);
  REQUIRE(writer.ok());
  REQUIRE((*writer)->append(*model.graph.find_initializer("big0")).has_value());
  REQUIRE((*writer)->append(*model.graph.find_initializer("big1")).has_value());
  model.graph.initializers.erase("big0");  // as a later pass would
  // ... and big1 replaced by a new tensor of its size: never taken for the one handed over
  // (the writer keeps that one alive, so the new one cannot reuse its address).
  model.graph.set_initializer("big1", Tensor::from_vector<float>({1024}, std::vector<float>(1024, 7.0f)));
  CHECK(!(*writer)->offset_of(*model.graph.find_initializer("big1")).has_value());
  options.data_writer = writer->get();
  REQUIRE(save_onnx(model, dir.file("m.onnx"), options).ok());
  SaveOptions plain_options = external_options();
  REQUIRE(save_onnx(model, dir.file("plain.onnx"), plain_options).ok());
  CHECK(test::read_bytes(dir.file("m.onnx.data")) == test::read_bytes(dir.file("plain.onnx.data")));
  auto loaded = load_onnx(dir.file("m.onnx"));
  REQUIRE(loaded.ok());
  check_same_initializers(model, *loaded);
  CHECK(dir.count_files() == 4);
}

TEST_CASE("external data writer: abandoned, or unable to write, it leaves nothing behind") {
  test::TempDir dir;
  REQUIRE(!dir.path().empty());
  const ir::Model model = model_with_weights(1);
  SUBCASE("abandoned by its destructor (the passes failed)") {
    {
      auto writer = start_external_data(dir.file("m.onnx"), external_options());
      REQUIRE(writer.ok());
      REQUIRE((*writer)->append(*model.graph.find_initializer("big0")).has_value());
    }
    CHECK(dir.count_files() == 0);
  }
  SUBCASE("a directory it cannot write: the save fails naming it, and leaves nothing") {
    if (geteuid() == 0) {
      MESSAGE("skipped as root: permissions do not stop root");
      return;
    }
    REQUIRE(chmod(dir.path().c_str(), 0500) == 0);
    SaveOptions options = external_options();
    auto writer = start_external_data(dir.file("m.onnx"), options);
    REQUIRE(writer.ok());
    options.data_writer = writer->get();
    const Status s = save_onnx(model, dir.file("m.onnx"), options);
    chmod(dir.path().c_str(), 0700);
    CHECK(!s.ok());
    CHECK(s.message().find("m.onnx") != std::string::npos);
    CHECK(dir.count_files() == 0);
  }
  SUBCASE("a missing directory") {
    SaveOptions options = external_options();
    auto writer = start_external_data(dir.file("missing/m.onnx"), options);
    REQUIRE(writer.ok());
    options.data_writer = writer->get();
    const Status s = save_onnx(model, dir.file("missing/m.onnx"), options);
    CHECK(s.code() == StatusCode::kInvalidInput);
    CHECK(s.message().find("missing") != std::string::npos);
    CHECK(dir.count_files() == 0);
  }
  SUBCASE("a bad data file name is refused before anything runs") {
    SaveOptions options = external_options();
    options.external_data_name = "../x.data";
    CHECK(!start_external_data(dir.file("m.onnx"), options).ok());
  }
}

}  // namespace
}  // namespace ember::formats
