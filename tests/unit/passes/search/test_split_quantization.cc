// quantize-weights{include=REGEX} and the layer-input statistics it keeps: quantizing two
// halves of the layers in two GPTQ passes gives the same codes and scales as one pass over all
// of them (every layer uses the FP32 model's Hessians), which the search's pipelines rely on.
#include <doctest/doctest.h>

#include <cstring>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "passes/pass_manager.h"
#include "passes/search/realize.h"

namespace ember::split_quant_test {
namespace {

ir::Model run_pipeline(const ir::Model& fp32, const calibration::CalibrationSet& calib, const std::string& text,
                       passes::AnalysisManager& analyses) {
  auto manager = passes::PassManager::from_text(text);
  REQUIRE(manager.ok());
  ir::Model model = fp32;
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  const Status ran = manager->run(model, ctx);
  REQUIRE_MESSAGE(ran.ok(), ran.message());
  return model;
}

}  // namespace

TEST_CASE("quantize-weights include=: two GPTQ passes over halves equal one pass over all") {
  auto tiny = test::open_tiny_gpt2();
  const std::vector<std::string> first = {"m.transformer.h.0.attn.c_attn.weight", "m.transformer.h.0.mlp.c_fc.weight"};
  const std::vector<std::string> second = {"m.transformer.h.1.attn.c_attn.weight", "m.transformer.h.1.mlp.c_proj.weight"};
  std::vector<std::string> both = first;
  both.insert(both.end(), second.begin(), second.end());
  const std::string q = "quantize-weights{bits=4,block=32,method=gptq,include=";
  passes::AnalysisManager split_analyses(&tiny.calib), one_analyses(&tiny.calib);
  const ir::Model split = run_pipeline(tiny.fp32, tiny.calib,
                                       q + passes::search::exact_names_regex(first) + "}," + q +
                                           passes::search::exact_names_regex(second) + "}",
                                       split_analyses);
  const ir::Model one = run_pipeline(tiny.fp32, tiny.calib, q + passes::search::exact_names_regex(both) + "}", one_analyses);
  CHECK(split_analyses.computations("layer-inputs") == 1);  // kept by the first pass for the second
  for (const auto& w : both) {
    for (const char* suffix : {"_quantized", "_scale"}) {
      const Tensor* a = split.graph.find_initializer(w + suffix);
      const Tensor* b = one.graph.find_initializer(w + suffix);
      REQUIRE_MESSAGE(a, std::string(w + suffix));
      REQUIRE(b);
      CHECK(a->nbytes() == b->nbytes());
      CHECK(std::memcmp(a->data<uint8_t>(), b->data<uint8_t>(), a->nbytes()) == 0);
    }
    CHECK(!split.graph.find_initializer(w));  // quantized: the float weight is gone
  }
  // A weight no include names stays float.
  CHECK(split.graph.find_initializer("m.transformer.h.0.attn.c_proj.weight"));
}

}  // namespace ember::split_quant_test
