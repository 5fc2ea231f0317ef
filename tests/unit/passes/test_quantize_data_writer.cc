// quantize-weights hands each layer's codes and scales to the output's external-data writer
// (PassContext::data_writer) as soon as they are made: the model saved through the writer
// reads back exactly as the one saved after the pass without it, for INT4 and INT8.
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "passes/quantize/weight_quantizer.h"
#include "tests/unit/passes/quantize_test_util.h"

using namespace ember;
using namespace ember::qw_test;

namespace {

// x -> MatMul w1 -> Relu -> MatMul w2 -> y, weights large enough for the data file.
ir::Model two_layers() {
  return make_model({node("MatMul", {"x", "w1"}, {"h"}), node("Relu", {"h"}, {"r"}), node("MatMul", {"r", "w2"}, {"y"})},
                    {-1, 128}, {{"w1", random_tensor({128, 256}, 1)}, {"w2", random_tensor({256, 64}, 2)}});
}

TEST_CASE("quantize-weights: each layer's outputs go to the external-data writer as they are made") {
  const std::string dir = (std::filesystem::temp_directory_path() / ("ember_qdw_" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  for (const std::string bits : {"4", "8"}) {
    CAPTURE(bits);
    ir::Model model = two_layers();
    formats::SaveOptions options;
    options.external_data = true;
    auto writer = formats::start_external_data(dir + "/streamed.onnx", options);
    REQUIRE(writer.ok());
    passes::WeightQuantization pass(passes::PassOptions("quantize-weights", {{"bits", bits}}));
    passes::AnalysisManager analyses(nullptr);
    passes::Remarks remarks;
    passes::PassContext ctx(analyses, remarks);
    ctx.data_writer = writer->get();
    REQUIRE(pass.run(model, ctx).ok());
    // Both layers' codes and scales, but INT8's 64 per-channel scales of w2 (256 B, under the
    // 1 KB threshold: they stay inline).
    CHECK((*writer)->tensors() == (bits == "4" ? 4u : 3u));
    options.data_writer = writer->get();
    REQUIRE(formats::save_onnx(model, dir + "/streamed.onnx", options).ok());
    formats::SaveOptions plain;
    plain.external_data = true;
    REQUIRE(formats::save_onnx(model, dir + "/plain.onnx", plain).ok());
    auto streamed = formats::load_onnx(dir + "/streamed.onnx");
    auto after = formats::load_onnx(dir + "/plain.onnx");
    REQUIRE(streamed.ok());
    REQUIRE(after.ok());
    CHECK(streamed->graph.initializers.size() == after->graph.initializers.size());
    for (const auto& [name, tensor] : after->graph.initializers) {
      const Tensor* other = streamed->graph.find_initializer(name);
      REQUIRE_MESSAGE(other, name);
      CHECK_MESSAGE(tensor.same_content(*other), name);
    }
    CHECK(!std::filesystem::exists(dir + "/streamed.onnx.data.partial"));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
