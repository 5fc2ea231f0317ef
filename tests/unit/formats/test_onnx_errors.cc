#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "formats/atomic_file.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "tests/unit/formats/format_test_util.h"

using namespace ember;
using namespace ember::formats;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A minimal valid model: y = Relu(x), with one initializer `w` that a test can break.
onnx::ModelProto tiny_model() {
  onnx::ModelProto p;
  p.set_ir_version(8);
  p.add_opset_import()->set_version(17);
  auto* g = p.mutable_graph();
  g->set_name("tiny");
  g->add_input()->set_name("x");
  g->add_output()->set_name("y");
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  w->add_dims(2);
  w->set_raw_data(std::string(8, '\0'));
  return p;
}

Status load_proto(const onnx::ModelProto& p) {
  const std::string bytes = p.SerializeAsString();
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "", "bad.onnx");
  return m.ok() ? Status::Ok() : m.status();
}

}  // namespace

TEST_CASE("onnx errors: unreadable files name the file and the problem") {
  test::TempDir dir;
  const std::string empty = dir.file("empty.onnx");
  test::write_bytes(empty, "");
  auto r = load_onnx(empty);
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), empty));
  CHECK(contains(r.status().message(), "empty"));

  CHECK(!load_onnx_from_bytes("", 0, "", "x.onnx").ok());

  r = load_onnx(dir.path());
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), "directory"));

  r = load_onnx(dir.file("missing.onnx"));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), "missing.onnx"));

  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  test::write_bytes(dir.file("noise.onnx"), noise);
  r = load_onnx(dir.file("noise.onnx"));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), "noise.onnx"));
}

TEST_CASE("onnx errors: malformed tensors and graphs") {
  onnx::ModelProto p = tiny_model();
  CHECK(load_proto(p).ok());

  p.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(7, '\0'));
  Status s = load_proto(p);
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(contains(s.message(), "'w'"));
  CHECK(contains(s.message(), "bad.onnx"));

  p = tiny_model();
  p.mutable_graph()->mutable_initializer(0)->set_data_type(17);  // float8: not modelled
  s = load_proto(p);
  CHECK(s.code() == StatusCode::kUnsupported);
  CHECK(contains(s.message(), "'w'"));

  p = tiny_model();
  p.mutable_graph()->mutable_initializer(0)->set_dims(0, -2);
  CHECK(load_proto(p).code() == StatusCode::kInvalidInput);

  p = tiny_model();
  auto* huge = p.mutable_graph()->mutable_initializer(0);
  huge->set_dims(0, int64_t{1} << 40);
  huge->add_dims(int64_t{1} << 40);  // the element count overflows int64
  CHECK(load_proto(p).code() == StatusCode::kInvalidInput);

  p = tiny_model();
  p.mutable_graph()->mutable_initializer(0)->add_float_data(1.0f);  // raw and typed at once
  CHECK(load_proto(p).code() == StatusCode::kInvalidInput);

  p = tiny_model();
  *p.mutable_graph()->add_initializer() = p.graph().initializer(0);
  s = load_proto(p);
  CHECK(contains(s.message(), "twice"));

  p = tiny_model();
  p.mutable_graph()->mutable_node(0)->set_input(0, "nowhere");
  s = load_proto(p);
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(contains(s.message(), "nowhere"));

  p = tiny_model();
  p.clear_graph();
  CHECK(load_proto(p).code() == StatusCode::kInvalidInput);

  // Subgraphs nested far deeper than any real model.
  p = tiny_model();
  onnx::GraphProto* g = p.mutable_graph();
  for (int depth = 0; depth < 40; ++depth) {
    auto* attr = g->mutable_node(0)->add_attribute();
    attr->set_name("body");
    attr->set_type(onnx::AttributeProto::GRAPH);
    g = attr->mutable_g();
    auto* n = g->add_node();
    n->set_op_type("Identity");
  }
  CHECK(load_proto(p).code() == StatusCode::kInvalidInput);
}

TEST_CASE("onnx errors: external data that is missing or too short") {
  test::TempDir dir;
  onnx::ModelProto p = tiny_model();
  auto* w = p.mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto entry = [&](const std::string& key, const std::string& value) {
    auto* e = w->add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  entry("location", "w.bin");
  entry("offset", "4");
  entry("length", "8");
  test::write_bytes(dir.file("m.onnx"), p.SerializeAsString());

  auto r = load_onnx(dir.file("m.onnx"));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), "'w'"));
  CHECK(contains(r.status().message(), "w.bin"));

  test::write_bytes(dir.file("w.bin"), std::string(11, 'x'));  // needs 4 + 8 bytes
  r = load_onnx(dir.file("m.onnx"));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), "past the end"));

  test::write_bytes(dir.file("w.bin"), std::string(12, 'x'));
  r = load_onnx(dir.file("m.onnx"));
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->graph.find_initializer("w")->data<uint8_t>()[0] == 'x');

  // An absolute location is refused even when it names the right file: external data stays
  // inside the model's directory (issue 20; test_hostile_files.cc has the other escapes).
  w->mutable_external_data(0)->set_value(dir.file("w.bin"));
  test::write_bytes(dir.file("abs.onnx"), p.SerializeAsString());
  r = load_onnx(dir.file("abs.onnx"));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(r.status().message(), "absolute path"));
}

TEST_CASE("onnx errors: unwritable outputs leave nothing behind") {
  const ir::Model model = test::make_test_model();
  Status s = save_onnx(model, "/nonexistent-ember-dir/out.onnx");
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(contains(s.message(), "/nonexistent-ember-dir/out.onnx"));

  test::TempDir dir;
  s = save_onnx(model, dir.path());
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(contains(s.message(), "directory"));

  SaveOptions bad_name;
  bad_name.external_data = true;
  bad_name.external_data_name = "../escape.data";
  CHECK(save_onnx(model, dir.file("m.onnx"), bad_name).code() == StatusCode::kInvalidInput);
  CHECK(dir.count_files() == 0);

  // A writer that fails halfway: the old file stays whole and no temporary file remains.
  const std::string target = dir.file("report.md");
  REQUIRE(write_string_atomic(target, "old contents").ok());
  s = write_file_atomic(target, [](std::ostream& out) {
    out << "partial";
    return invalid_input("the writer gave up");
  });
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(contains(s.message(), "report.md"));
  CHECK(test::read_bytes(target) == "old contents");
  CHECK(dir.count_files() == 1);
}
