// Backward rules of LayerNormalization, BatchNormalization and the mean/sum reductions.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad LayerNormalization over the last axis and over trailing axes") {
  check_node("LayerNormalization",
             {{"x", random_f32({2, 3, 8}, 1, 1.0f, 0.5f), Role::kFeed}, {"scale", random_f32({8}, 2, 0.5f, 1.0f)},
              {"bias", random_f32({8}, 3)}},
             {float_attr("epsilon", 1e-5f)});
  check_node("LayerNormalization",
             {{"x", random_f32({2, 3, 4}, 4)}, {"scale", random_f32({3, 4}, 5, 0.5f, 1.0f)}, {"bias", random_f32({3, 4}, 6)}},
             {int_attr("axis", 1)});
  // Without bias, scale broadcast from a smaller shape.
  check_node("LayerNormalization", {{"x", random_f32({3, 5}, 7)}, {"scale", random_f32({1}, 8, 0.5f, 1.0f)}});
}

TEST_CASE("grad LayerNormalization over many rows: blocks in parallel, the same at any thread count") {
  // 40 rows of 256: blocks of 32 and 8 rows (grad_normalization.cc), each with its own partial
  // dscale / dbias.
  const std::vector<TestInput> inputs = {{"x", random_f32({40, 256}, 9), Role::kFeed},
                                         {"scale", random_f32({256}, 10, 0.5f, 1.0f)},
                                         {"bias", random_f32({256}, 11)}};
  check_node("LayerNormalization", inputs);
  const ir::Model model = make_graph_model({make_node("LayerNormalization", {"x", "scale", "bias"}, {"y"})}, inputs, {"y"});
  std::map<std::string, std::vector<float>> by_threads[2];
  for (int threads : {1, 2}) {
    runtime::grad::GradientOptions go;
    go.parameters = {"scale", "bias"};
    go.activations = {"x"};
    go.threads = threads;
    auto bi = runtime::grad::BackwardInterpreter::create(model, go);
    REQUIRE(bi.ok());
    REQUIRE((*bi)->forward({{"x", inputs[0].value}}).ok());
    const Tensor seed = random_f32({40, 256}, 12);
    REQUIRE((*bi)->backward({{"y", seed}}, [&](const std::string& name, const Tensor& g) {
                   by_threads[threads - 1][name].assign(g.data<float>(), g.data<float>() + g.numel());
                   return Status::Ok();
                 }).ok());
  }
  REQUIRE(by_threads[0].size() == 3);
  CHECK(by_threads[0] == by_threads[1]);  // bit for bit
}

TEST_CASE("grad BatchNormalization (inference) for X, scale, bias, mean and variance") {
  check_node("BatchNormalization",
             {{"x", random_f32({2, 3, 2, 2}, 1), Role::kFeed}, {"scale", random_f32({3}, 2, 0.5f, 1.0f)},
              {"bias", random_f32({3}, 3)}, {"mean", random_f32({3}, 4, 0.3f)}, {"var", random_f32({3}, 5, 0.1f, 1.0f)}},
             {float_attr("epsilon", 1e-3f)}, 15);
}

TEST_CASE("grad ReduceMean and ReduceSum: axes attribute or input, keepdims") {
  check_node("ReduceMean", {{"x", random_f32({2, 3, 4}, 1)}}, {ints_attr("axes", {1}), int_attr("keepdims", 0)}, 13);
  check_node("ReduceMean", {{"x", random_f32({2, 3, 4}, 2)}}, {ints_attr("axes", {-1, 0})}, 13);
  check_node("ReduceMean", {{"x", random_f32({2, 3, 4}, 3)}}, {}, 13);  // all axes
  check_node("ReduceMean",
             {{"x", random_f32({2, 3, 4}, 4)}, {"axes", Tensor::from_vector<int64_t>({1}, {2}), Role::kConstant}},
             {int_attr("keepdims", 0)}, 18);
  check_node("ReduceSum",
             {{"x", random_f32({2, 3, 4}, 5)}, {"axes", Tensor::from_vector<int64_t>({2}, {0, 2}), Role::kConstant}}, {}, 13);
  check_node("ReduceSum", {{"x", random_f32({2, 3}, 6)}}, {ints_attr("axes", {1})}, 11);
}

}  // namespace ember::grad_test
