// BackwardInterpreter: gradient accumulation over fan-out, tied and Constant weights, weights
// behind foldable ops, intermediate gradients, the missing-rule error, saved activations.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace rg = runtime::grad;

TEST_CASE("grad engine: fan-out, residuals and chained layers accumulate") {
  ir::Model m = make_graph_model(
      {make_node("Gemm", {"x", "w1", "b1"}, {"h"}), make_node("Tanh", {"h"}, {"a"}), make_node("Mul", {"a", "a"}, {"sq"}),
       make_node("Add", {"sq", "h"}, {"s"}), make_node("MatMul", {"s", "w2"}, {"y"})},
      {{"x", random_f32({3, 4}, 1), Role::kFeed}, {"w1", random_f32({4, 5}, 2)}, {"b1", random_f32({5}, 3)},
       {"w2", random_f32({5, 2}, 4)}},
      {"y"});
  check_model_gradients(m, {{"x", random_f32({3, 4}, 1), Role::kFeed}, {"w1", random_f32({4, 5}, 2)},
                            {"b1", random_f32({5}, 3)}, {"w2", random_f32({5, 2}, 4)}});
}

TEST_CASE("grad engine: a tied weight used by Gather and, transposed, by MatMul") {
  const std::vector<TestInput> inputs = {{"table", random_f32({6, 4}, 1)},
                                         {"ids", Tensor::from_vector<int64_t>({1, 3}, {5, 0, 5}), Role::kConstant}};
  ir::Model m = make_graph_model({make_node("Gather", {"table", "ids"}, {"e"}), make_node("Transpose", {"table"}, {"t"}),
                                  make_node("MatMul", {"e", "t"}, {"logits"})},
                                 inputs, {"logits"});
  check_model_gradients(m, inputs);
}

TEST_CASE("grad engine: a Constant-node weight is differentiated like an initializer") {
  const Tensor w = random_f32({4, 3}, 5);
  const Tensor x = random_f32({2, 3}, 6);
  ir::Node constant = make_node("Constant", {}, {"w"});
  ir::Attribute value;
  value.name = "value";
  value.kind = ir::AttrKind::kTensor;
  value.t = w;
  constant.attributes.push_back(value);
  ir::Model with_constant = make_graph_model({constant, make_node("Transpose", {"w"}, {"wt"}), make_node("MatMul", {"x", "wt"}, {"y"})},
                                             {{"x", x, Role::kFeed}}, {"y"});
  ir::Model with_initializer = make_graph_model({make_node("Transpose", {"w"}, {"wt"}), make_node("MatMul", {"x", "wt"}, {"y"})},
                                                {{"x", x, Role::kFeed}, {"w", w}}, {"y"});
  std::vector<Tensor> grads;
  for (const ir::Model* m : {&with_constant, &with_initializer}) {
    auto bi = rg::BackwardInterpreter::create(*m);
    REQUIRE(bi.ok());
    CHECK((*bi)->parameters() == std::vector<std::string>{"w"});
    REQUIRE((*bi)->forward({{"x", x}}).ok());
    Tensor g;
    REQUIRE((*bi)->backward({{"y", random_f32({2, 4}, 7)}}, [&](const std::string& name, const Tensor& t) {
                  if (name == "w") g = t.clone();
                  return Status::Ok();
                }).ok());
    REQUIRE(g.defined());
    grads.push_back(g);
  }
  CHECK(grads[0].same_content(grads[1]));
}

TEST_CASE("grad engine: the gradient of an intermediate activation") {
  // y = Relu(x) W: dL/dRelu(x) = R W^T.
  const Tensor x = distinct_f32({2, 3}, 1, 0.2f), w = random_f32({3, 2}, 2), r = random_f32({2, 2}, 3);
  ir::Model m = make_graph_model({make_node("Relu", {"x"}, {"a"}), make_node("MatMul", {"a", "w"}, {"y"})},
                                 {{"x", x, Role::kFeed}, {"w", w}}, {"y"});
  rg::GradientOptions go;
  go.activations = {"a"};
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE(bi.ok());
  REQUIRE((*bi)->forward({{"x", x}}).ok());
  Tensor da;
  REQUIRE((*bi)->backward({{"y", r}}, [&](const std::string& name, const Tensor& t) {
                if (name == "a") da = t.clone();
                return Status::Ok();
              }).ok());
  REQUIRE(da.defined());
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k) {
      const float expected = r.data<float>()[i * 2] * w.data<float>()[k * 2] + r.data<float>()[i * 2 + 1] * w.data<float>()[k * 2 + 1];
      CHECK(da.data<float>()[i * 3 + k] == doctest::Approx(expected).epsilon(1e-5));
    }
}

TEST_CASE("grad engine: ops without a backward rule on the path are all listed") {
  // Two configurations without a backward rule: ScatterElements with reduction max (its rule
  // covers none and add) and bicubic GridSample (its rule covers linear and nearest).
  ir::Model m = make_graph_model(
      {make_node("MatMul", {"x", "w"}, {"h"}),
       make_node("ScatterElements", {"h", "index", "update"}, {"s"}, {test::string_attr("reduction", "max")}),
       make_node("GridSample", {"h", "grid"}, {"c"}, {test::string_attr("mode", "bicubic")}), make_node("Add", {"s", "c"}, {"y"})},
      {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w", random_f32({3, 3}, 2)},
       {"index", Tensor::from_vector<int64_t>({1, 1}, {0}), Role::kConstant},
       {"update", Tensor::from_vector<float>({1, 1}, {0.5f}), Role::kConstant},
       {"grid", Tensor::from_vector<float>({1, 2}, {0, 0}), Role::kConstant}},
      {"y"});
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE(!bi.ok());
  CHECK(bi.status().code() == StatusCode::kUnsupported);
  INFO(bi.status().message());
  CHECK(bi.status().message().find("ScatterElements") != std::string::npos);
  CHECK(bi.status().message().find("GridSample") != std::string::npos);
}

TEST_CASE("grad engine: shape computations cut the path instead of failing") {
  // y = Reshape(h, Shape(h)) with h = x W: Shape carries no gradient, Reshape's shape input neither.
  ir::Model m = make_graph_model({make_node("MatMul", {"x", "w"}, {"h"}), make_node("Shape", {"h"}, {"s"}),
                                  make_node("Cast", {"s"}, {"s32"}, {int_attr("to", 7)}),
                                  make_node("Reshape", {"h", "s32"}, {"y"})},
                                 {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w", random_f32({3, 4}, 2)}}, {"y"});
  check_model_gradients(m, {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w", random_f32({3, 4}, 2)}});
}

TEST_CASE("grad engine: keeps only the activations the rules read") {
  const Tensor x = random_f32({64, 32}, 1);
  // Add needs nothing; MatMul's weight gradient needs its activation input only.
  ir::Model adds = make_graph_model({make_node("Add", {"x", "b1"}, {"h"}), make_node("Add", {"h", "b2"}, {"y"})},
                                    {{"x", x, Role::kFeed}, {"b1", random_f32({32}, 2)}, {"b2", random_f32({32}, 3)}}, {"y"});
  ir::Model mlp = make_graph_model({make_node("Add", {"x", "b1"}, {"h"}), make_node("MatMul", {"h", "w"}, {"y"})},
                                   {{"x", x, Role::kFeed}, {"b1", random_f32({32}, 2)}, {"w", random_f32({32, 8}, 3)}}, {"y"});
  auto a = rg::BackwardInterpreter::create(adds);
  auto b = rg::BackwardInterpreter::create(mlp);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE((*a)->forward({{"x", x}}).ok());
  REQUIRE((*b)->forward({{"x", x}}).ok());
  CHECK((*a)->saved_bytes() == 0);
  CHECK((*b)->saved_bytes() == x.nbytes());  // h only
  REQUIRE((*b)->backward({{"y", random_f32({64, 8}, 4)}}, nullptr).ok());
  CHECK((*b)->saved_bytes() == 0);
  // One backward per forward.
  CHECK((*b)->backward({{"y", random_f32({64, 8}, 4)}}, nullptr).code() == StatusCode::kInvalidInput);
}

TEST_CASE("grad engine: weight gradients given as factors equal the stored ones") {
  // Gemm (plain and transB) and a batched MatMul whose 2-D weight folds the batches; w4 is
  // read by two MatMuls, so its gradient adds two products and must come whole.
  const Tensor x = random_f32({6, 4}, 1);
  const std::vector<TestInput> inputs = {{"x", x, Role::kFeed},       {"w1", random_f32({4, 5}, 2)},
                                         {"b1", random_f32({5}, 3)},  {"w2", random_f32({3, 5}, 4)},
                                         {"w3", random_f32({3, 3}, 5)}, {"w4", random_f32({3, 3}, 7)}, {"shape", Tensor::from_vector<int64_t>({3}, {2, 3, 3}), Role::kConstant}};
  ir::Model m = make_graph_model({make_node("Gemm", {"x", "w1", "b1"}, {"h"}), make_node("Tanh", {"h"}, {"a"}),
                                  make_node("Gemm", {"a", "w2"}, {"z"}, {int_attr("transB", 1), float_attr("alpha", 0.5f)}),
                                  make_node("Reshape", {"z", "shape"}, {"z3"}), make_node("MatMul", {"z3", "w3"}, {"u"}),
                                  make_node("MatMul", {"u", "w4"}, {"v"}), make_node("MatMul", {"v", "w4"}, {"y"})},
                                 inputs, {"y"});
  const Tensor dy = random_f32({2, 3, 3}, 6);
  auto run = [&](bool factored, std::map<std::string, Tensor>& whole, std::set<std::string>& as_factors) {
    auto bi = rg::BackwardInterpreter::create(m);
    REQUIRE(bi.ok());
    REQUIRE((*bi)->forward({{"x", x}}).ok());
    rg::FactoredGradientSink factors = [&](const std::string& name, rg::FactoredGrad& g) {
      as_factors.insert(name);
      const Shape shape = m.graph.find_initializer(name)->shape();
      whole[name] = g.materialize(shape, nullptr);
      if (name == "w1") {  // rows computed in blocks, on packed factors, equal the whole product
        g.pack_right();
        std::vector<float> rows(size_t(2 * g.width));
        g.compute_rows(1, 3, rows.data());
        for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i] == doctest::Approx(whole[name].data<float>()[g.width + int64_t(i)]));
      }
      return Status::Ok();
    };
    REQUIRE((*bi)->backward({{"y", dy}}, [&](const std::string& name, const Tensor& g) {
                  whole[name] = g.clone();
                  return Status::Ok();
                }, factored ? factors : nullptr).ok());
  };
  std::map<std::string, Tensor> plain, mixed;
  std::set<std::string> none, factored;
  run(false, plain, none);
  run(true, mixed, factored);
  CHECK(none.empty());
  CHECK(factored == std::set<std::string>{"w1", "w2", "w3"});
  REQUIRE(plain.size() == mixed.size());
  for (const auto& [name, g] : plain) {
    INFO(name);
    REQUIRE(mixed.count(name));
    REQUIRE(mixed[name].shape() == g.shape());
    for (int64_t i = 0; i < g.numel(); ++i) CHECK(mixed[name].data<float>()[i] == doctest::Approx(g.data<float>()[i]).epsilon(1e-5));
  }
}

TEST_CASE("grad engine: bad output gradients and unknown names are input errors") {
  ir::Model m = make_graph_model({make_node("MatMul", {"x", "w"}, {"y"})},
                                 {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w", random_f32({3, 4}, 2)}}, {"y"});
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE(bi.ok());
  REQUIRE((*bi)->forward({{"x", random_f32({2, 3}, 1)}}).ok());
  CHECK((*bi)->backward({{"y", random_f32({2, 5}, 3)}}, nullptr).code() == StatusCode::kInvalidInput);
  rg::GradientOptions go;
  go.parameters = {"nope"};
  CHECK(rg::BackwardInterpreter::create(m, go).status().code() == StatusCode::kInvalidInput);
}

}  // namespace ember::grad_test
