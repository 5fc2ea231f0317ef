// Values of any kind in files: .pb (TensorProto / SequenceProto / OptionalProto, nested
// sequences included) round trips, .npz as a sequence, the output writers, and bad files.
#include <doctest/doctest.h>

#include <onnx/onnx-data_pb.h>

#include "formats/npz.h"
#include "formats/value_file.h"
#include "formats/value_pb.h"
#include "ir/memory_limits.h"
#include "tests/unit/formats/format_test_util.h"
#include "tests/unit/sequence_type_util.h"

using namespace ember;
using namespace ember::formats;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(std::move(shape), v); }

// [[a, b], []]: a sequence of two sequences, the second empty.
Value nested_example() {
  Value first = Value::sequence(DType::kF32, {f32({2}, {1, 2}), f32({1, 3}, {3, 4, 5})});
  Value second = Value::sequence(DType::kF32, {});
  return Value::nested_sequence(2, DType::kF32, {first, second});
}

void check_nested_example(const Value& v) {
  REQUIRE(v.is_sequence());
  CHECK(v.depth() == 2);
  CHECK(v.type_string() == "seq(seq(tensor(f32)))");
  REQUIRE(v.length() == 2);
  REQUIRE(v.items()[0].elements().size() == 2);
  CHECK(v.items()[0].elements()[1].shape() == Shape{1, 3});
  CHECK(v.items()[0].elements()[1].data<float>()[2] == 5.0f);
  CHECK(v.items()[1].length() == 0);
  CHECK(v.items()[1].elem_type() == DType::kF32);
}

}  // namespace

TEST_CASE("value pb: a nested sequence and optionals of it round-trip") {
  test::TempDir dir;
  const Value nested = nested_example();
  CHECK(nested.describe() == "sequence of 2 sequences of f32 tensors");
  CHECK(nested.nbytes() == 5 * sizeof(float));
  REQUIRE(write_value_pb(dir.file("s.pb"), "s", nested).ok());
  auto back = read_value_pb(dir.file("s.pb"), test::sequence_value_info("s", 2));
  REQUIRE(back.ok());
  check_nested_example(*back);
  // Deterministic: writing what was read gives the same bytes.
  REQUIRE(write_value_pb(dir.file("again.pb"), "s", *back).ok());
  CHECK(test::read_bytes(dir.file("s.pb")) == test::read_bytes(dir.file("again.pb")));

  REQUIRE(write_value_pb(dir.file("o.pb"), "o", Value::some(nested)).ok());
  auto opt = read_value_pb(dir.file("o.pb"), test::sequence_value_info("o", 2, true));
  REQUIRE(opt.ok());
  REQUIRE(opt->is_optional());
  CHECK(opt->type_string() == "optional(seq(seq(tensor(f32))))");
  REQUIRE(opt->has_element());
  check_nested_example(opt->element());

  REQUIRE(write_value_pb(dir.file("none.pb"), "o", Value::none(Value::Kind::kSequence, DType::kF32, 2)).ok());
  auto none = read_value_pb(dir.file("none.pb"), test::sequence_value_info("o", 2, true));
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_element());
  CHECK(none->type_string() == "optional(seq(seq(tensor(f32))))");

  // An empty nested sequence keeps its declared depth.
  REQUIRE(write_value_pb(dir.file("empty.pb"), "s", Value::nested_sequence(3, DType::kF32, {})).ok());
  auto empty = read_value_pb(dir.file("empty.pb"), test::sequence_value_info("s", 3));
  REQUIRE(empty.ok());
  CHECK(empty->type_string() == "seq(seq(seq(tensor(f32))))");
}

TEST_CASE("value pb: truncated, mixed and too long sequences are refused naming the file") {
  test::TempDir dir;
  REQUIRE(write_value_pb(dir.file("s.pb"), "s", nested_example()).ok());
  const std::string bytes = test::read_bytes(dir.file("s.pb"));
  test::write_bytes(dir.file("cut.pb"), bytes.substr(0, bytes.size() - 3));
  auto cut = read_value_pb(dir.file("cut.pb"), test::sequence_value_info("s", 2));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.status().code() == StatusCode::kInvalidInput);
  CHECK(contains(cut.status().message(), "cut.pb: not a valid SequenceProto"));

  // Items of different depths in one sequence.
  onnx::SequenceProto mixed;
  mixed.set_elem_type(onnx::SequenceProto::SEQUENCE);
  mixed.add_sequence_values()->set_elem_type(onnx::SequenceProto::TENSOR);
  auto* deeper = mixed.add_sequence_values();
  deeper->set_elem_type(onnx::SequenceProto::SEQUENCE);
  deeper->add_sequence_values()->set_elem_type(onnx::SequenceProto::TENSOR);
  test::write_bytes(dir.file("mixed.pb"), mixed.SerializeAsString());
  auto bad = read_value_pb(dir.file("mixed.pb"), test::sequence_value_info("s", 2));
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.status().message(), "mixed.pb: item 1 is a seq(seq(tensor(f32))), item 0 a seq(tensor(f32))"));

  // Nesting is bounded: 40 levels are refused by Ember, 1000 by protobuf's recursion limit.
  for (int depth : {40, 1000}) {
    onnx::SequenceProto deep;
    onnx::SequenceProto* level = &deep;
    for (int d = 1; d < depth; ++d) {
      level->set_elem_type(onnx::SequenceProto::SEQUENCE);
      level = level->add_sequence_values();
    }
    level->set_elem_type(onnx::SequenceProto::TENSOR);
    test::write_bytes(dir.file("deep.pb"), deep.SerializeAsString());
    auto refused = read_value_pb(dir.file("deep.pb"), test::sequence_value_info("s", 2));
    REQUIRE_FALSE(refused.ok());
    CHECK(contains(refused.status().message(), depth == 40 ? "sequences nested deeper than 32" : "not a valid SequenceProto"));
  }

  const MemoryLimits saved = memory_limits();
  MemoryLimits tight = saved;
  tight.max_sequence_length = 1;
  set_memory_limits(tight);
  auto long_outer = read_value_pb(dir.file("s.pb"), test::sequence_value_info("s", 2));
  set_memory_limits(saved);
  REQUIRE_FALSE(long_outer.ok());
  CHECK(contains(long_outer.status().message(), "s.pb"));
  CHECK(contains(long_outer.status().message(), "2 sequence steps asked, above the cap of 1"));
}

TEST_CASE("value files: .npz is a sequence in index order, and outputs as npy, npz and pb") {
  test::TempDir dir;
  std::map<std::string, Tensor> entries;
  for (int i = 0; i < 11; ++i) entries["arr_" + std::to_string(i)] = f32({1}, {float(i)});  // arr_10 sorts before arr_2
  REQUIRE(write_npz(dir.file("seq.npz"), entries).ok());
  const ir::ValueInfo s = test::sequence_value_info("s", 1);
  auto seq = read_value_file(dir.file("seq.npz"), s);
  REQUIRE(seq.ok());
  REQUIRE(seq->length() == 11);
  for (int i = 0; i < 11; ++i) CHECK(seq->elements()[size_t(i)].data<float>()[0] == float(i));

  REQUIRE(write_npz(dir.file("named.npz"), {{"first", f32({1}, {0})}}).ok());
  auto named = read_value_file(dir.file("named.npz"), s);
  REQUIRE_FALSE(named.ok());
  CHECK(contains(named.status().message(), "entry 'first' is not one of arr_0 .. arr_0"));
  auto other = read_value_file(dir.file("seq.txt"), s);
  REQUIRE_FALSE(other.ok());
  CHECK(contains(other.status().message(), "input 's'"));
  CHECK(contains(other.status().message(), "name a sequence FILE.npz, any value FILE.pb"));

  auto npy = write_value_files(dir.path(), "y", "y", nested_example(), ValueFileFormat::kNpy);
  REQUIRE(npy.ok());
  REQUIRE(npy->size() == 2);
  CHECK(npy->at(1) == dir.file("y.0.1.npy"));
  auto npz = write_value_files(dir.path(), "z", "z", *seq, ValueFileFormat::kNpz);
  REQUIRE(npz.ok());
  auto again = read_value_file(npz->at(0), s);
  REQUIRE(again.ok());
  CHECK(again->length() == 11);
  auto pb = write_value_files(dir.path(), "p", "p", Value::some(*seq), ValueFileFormat::kPb);
  REQUIRE(pb.ok());
  auto from_pb = read_value_file(pb->at(0), test::sequence_value_info("p", 1, true));
  REQUIRE(from_pb.ok());
  CHECK(from_pb->element().length() == 11);
  auto none = write_value_files(dir.path(), "n", "n", Value::none(Value::Kind::kTensor, DType::kF32), ValueFileFormat::kNpz);
  REQUIRE(none.ok());
  CHECK(none->empty());
}
