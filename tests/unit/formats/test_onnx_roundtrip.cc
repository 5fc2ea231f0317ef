#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "tests/unit/formats/format_test_util.h"

using namespace ember;
using namespace ember::formats;

namespace {

onnx::ModelProto parse_model(const std::string& bytes) {
  onnx::ModelProto proto;
  REQUIRE(proto.ParseFromString(bytes));
  return proto;
}

const onnx::NodeProto* find_node(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& n : g.node())
    if (n.name() == name) return &n;
  return nullptr;
}

}  // namespace

TEST_CASE("onnx: the serialized test model carries every part of the format") {
  auto bytes = serialize_onnx(test::make_test_model());
  REQUIRE(bytes.ok());
  const onnx::ModelProto p = parse_model(*bytes);
  CHECK(p.ir_version() == 10);
  CHECK(p.opset_import_size() == 2);
  CHECK(p.producer_name() == "ember-tests");
  CHECK(p.model_version() == 3);
  CHECK(p.metadata_props_size() == 2);
  CHECK(p.functions_size() == 1);
  CHECK(p.functions(0).name() == "MyFn");
  CHECK(p.GetReflection()->GetUnknownFields(p).field_count() == 1);
  const auto& g = p.graph();
  REQUIRE(g.initializer_size() == 5);
  CHECK(g.initializer(0).name() == "w");  // file order kept
  CHECK(g.initializer(1).name() == "q4");
  CHECK(g.initializer(1).data_type() == 22);
  CHECK(g.initializer(1).raw_data() == std::string("\x71\xF8\x03", 3));
  CHECK(g.initializer(2).string_data_size() == 2);
  CHECK(g.initializer(4).dims_size() == 2);
  CHECK(g.GetReflection()->GetUnknownFields(g).field_count() == 1);
  const onnx::NodeProto* mm = find_node(g, "mm");
  REQUIRE(mm);
  const auto& unknown = mm->GetReflection()->GetUnknownFields(*mm);
  REQUIRE(unknown.field_count() == 1);
  CHECK(unknown.field(0).number() == 9);
  CHECK(unknown.field(0).length_delimited() == "stack trace");
  const onnx::NodeProto* custom = find_node(g, "custom");
  REQUIRE(custom);
  REQUIRE(custom->attribute_size() == 11);
  CHECK(custom->attribute(0).type() == onnx::AttributeProto::FLOAT);
  CHECK(custom->attribute(0).doc_string() == "a float");
  CHECK(custom->attribute(2).s() == std::string("bytes\0here", 10));
  CHECK(custom->attribute(6).t().raw_data().size() == 16);
  CHECK(custom->attribute(8).graphs_size() == 2);
  CHECK(custom->attribute(9).type() == onnx::AttributeProto::TYPE_PROTO);
  CHECK(custom->attribute(9).tp().tensor_type().elem_type() == 1);
  CHECK(custom->attribute(10).ref_attr_name() == "outer_ref");
  CHECK(custom->input(1).empty());
  CHECK(g.value_info(0).type().tensor_type().shape().dim(0).dim_param() == "N");
  CHECK(g.value_info(0).type().tensor_type().shape().dim(1).dim_value() == 4);
  CHECK(!g.value_info(0).type().tensor_type().shape().dim(2).has_dim_value());
  CHECK(g.value_info(1).type().has_sequence_type());
  CHECK(g.quantization_annotation_size() == 1);
}

TEST_CASE("onnx: serialize -> load -> serialize reproduces the same bytes") {
  const ir::Model model = test::make_test_model();
  auto first = serialize_onnx(model);
  REQUIRE(first.ok());
  auto loaded = load_onnx_from_bytes(first->data(), first->size(), "", "memory");
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  auto second = serialize_onnx(*loaded);
  REQUIRE(second.ok());
  CHECK(*first == *second);
  // The pieces a symmetric bug could drop on both sides, checked on the loaded model.
  const ir::Graph& g = loaded->graph;
  CHECK(g.initializer_order == std::vector<std::string>{"w", "q4", "labels", "h", "empty"});
  CHECK(g.find_initializer("q4")->same_content(*model.graph.find_initializer("q4")));
  CHECK(g.find_initializer("labels")->string_values()[1] == std::string("b\0c", 3));
  CHECK(g.find_initializer("h")->same_content(*model.graph.find_initializer("h")));
  CHECK(g.nodes[0].unknown_fields == model.graph.nodes[0].unknown_fields);
  CHECK(g.value_info[0].unknown_fields == model.graph.value_info[0].unknown_fields);
  CHECK(g.nodes[2].find_attr("else_branch")->g->nodes[0].op_type == "Neg");
  CHECK(g.nodes[1].find_attr("tp")->kind == ir::AttrKind::kOther);
  CHECK(g.inputs[0].dims[0].param == "N");
  CHECK(loaded->metadata_props == model.metadata_props);
  // Deterministic: the same model always gives the same bytes.
  CHECK(*serialize_onnx(model) == *first);
}

TEST_CASE("onnx: save and load through a file, with and without external data") {
  test::TempDir dir;
  REQUIRE(!dir.path().empty());
  const ir::Model model = test::make_test_model();
  const std::string expected = *serialize_onnx(model);

  SUBCASE("inline") {
    REQUIRE(save_onnx(model, dir.file("m.onnx")).ok());
    CHECK(test::read_bytes(dir.file("m.onnx")) == expected);
    CHECK(!std::filesystem::exists(dir.file("m.onnx.data")));
    CHECK(dir.count_files() == 1);
  }
  SUBCASE("external data") {
    SaveOptions options;
    options.external_data = true;
    options.external_threshold = 8;  // w (64 B), h (6 B stays inline), q4 (3 B stays inline)
    REQUIRE(save_onnx(model, dir.file("m.onnx"), options).ok());
    REQUIRE(std::filesystem::exists(dir.file("m.onnx.data")));
    CHECK(std::filesystem::file_size(dir.file("m.onnx.data")) == 64);
    const onnx::ModelProto p = parse_model(test::read_bytes(dir.file("m.onnx")));
    CHECK(p.graph().initializer(0).data_location() == onnx::TensorProto::EXTERNAL);
    CHECK(!p.graph().initializer(0).has_raw_data());
    CHECK(p.graph().initializer(1).data_location() == onnx::TensorProto::DEFAULT);
    auto loaded = load_onnx(dir.file("m.onnx"));
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    CHECK(*serialize_onnx(*loaded) == expected);
    // Saving the loaded model (whose weights view the old data file) over itself is safe.
    REQUIRE(save_onnx(*loaded, dir.file("m.onnx"), options).ok());
    auto again = load_onnx(dir.file("m.onnx"));
    REQUIRE(again.ok());
    CHECK(*serialize_onnx(*again) == expected);
  }
  SUBCASE("external data with a custom name, several tensors, aligned offsets") {
    ir::Model big = model;
    big.graph.set_initializer("w2", Tensor::from_vector<float>({3}, {1, 2, 3}));  // 12 bytes
    big.graph.set_initializer("w3", Tensor::from_vector<int64_t>({5}, {1, 2, 3, 4, 5}));
    SaveOptions options;
    options.external_data = true;
    options.external_data_name = "weights.bin";
    options.external_threshold = 10;
    REQUIRE(save_onnx(big, dir.file("big.onnx"), options).ok());
    const onnx::ModelProto p = parse_model(test::read_bytes(dir.file("big.onnx")));
    int external = 0;
    for (const auto& t : p.graph().initializer()) {
      if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
      ++external;
      for (const auto& e : t.external_data()) {
        if (e.key() == "location") CHECK(e.value() == "weights.bin");
        if (e.key() == "offset") CHECK(std::stoull(e.value()) % 64 == 0);
      }
    }
    CHECK(external == 3);
    auto loaded = load_onnx(dir.file("big.onnx"));
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    for (const auto& name : {"w", "w2", "w3"})
      CHECK(loaded->graph.find_initializer(name)->same_content(*big.graph.find_initializer(name)));
  }
  SUBCASE("large models switch to external data on their own") {
    SaveOptions options;
    options.auto_external_above = 32;  // stands in for the 2 GB protobuf limit
    options.external_threshold = 8;
    REQUIRE(save_onnx(model, dir.file("auto.onnx"), options).ok());
    CHECK(std::filesystem::exists(dir.file("auto.onnx.data")));
    auto loaded = load_onnx(dir.file("auto.onnx"));
    REQUIRE(loaded.ok());
    CHECK(*serialize_onnx(*loaded) == expected);
  }
}

TEST_CASE("onnx: typed data fields are converted to the raw layout") {
  onnx::ModelProto p;
  p.set_ir_version(8);
  p.add_opset_import()->set_version(17);
  auto* g = p.mutable_graph();
  auto add = [&](const std::string& name, int type, std::vector<int64_t> dims) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (auto d : dims) t->add_dims(d);
    return t;
  };
  auto* f = add("f", 1, {2});
  f->add_float_data(1.5f);
  f->add_float_data(-3);
  auto* h = add("h", 10, {2});
  h->add_int32_data(float_to_half(0.5f));
  h->add_int32_data(float_to_half(-2.0f));
  auto* i8 = add("i8", 3, {3});
  for (int v : {-128, 0, 127}) i8->add_int32_data(v);
  auto* b = add("b", 9, {2});
  b->add_int32_data(1);
  b->add_int32_data(0);
  auto* i4 = add("i4", 22, {3});  // packed two per entry, low nibble first
  i4->add_int32_data(0xF7);
  i4->add_int32_data(0x08);
  auto* u32 = add("u32", 12, {1});
  u32->add_uint64_data(4000000000u);
  auto* d = add("d", 11, {1});
  d->add_double_data(0.1);
  auto* i64 = add("i64", 7, {2});
  i64->add_int64_data(-5);
  i64->add_int64_data(int64_t{1} << 40);
  auto* s = add("s", 8, {1});
  s->add_string_data("text");
  const std::string bytes = p.SerializeAsString();
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "", "typed.onnx");
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  const ir::Graph& graph = m->graph;
  CHECK(graph.find_initializer("f")->data<float>()[1] == -3.0f);
  CHECK(half_to_float(graph.find_initializer("h")->data<uint16_t>()[1]) == -2.0f);
  CHECK(graph.find_initializer("i8")->data<int8_t>()[0] == -128);
  CHECK(graph.find_initializer("b")->data<uint8_t>()[0] == 1);
  const auto q = graph.find_initializer("i4")->to_floats();
  REQUIRE(q.ok());
  CHECK(*q == std::vector<float>{7, -1, -8});
  CHECK(graph.find_initializer("u32")->data<uint32_t>()[0] == 4000000000u);
  CHECK(graph.find_initializer("d")->data<double>()[0] == 0.1);
  CHECK(graph.find_initializer("i64")->data<int64_t>()[1] == int64_t{1} << 40);
  CHECK(graph.find_initializer("s")->string_values()[0] == "text");
  // Saved back, everything but strings is raw_data.
  const onnx::ModelProto out = parse_model(*serialize_onnx(*m));
  CHECK(out.graph().initializer(0).raw_data().size() == 8);
  CHECK(out.graph().initializer(4).raw_data() == std::string("\xF7\x08", 2));
  CHECK(out.graph().initializer(8).string_data(0) == "text");
}
