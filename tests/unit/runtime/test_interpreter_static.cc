// The interpreter's reuse of shape-static values (runtime/interpreter.h): what a graph computes
// from its feeds' shapes alone (masks, positions) is taken from the previous run while the
// shapes stay the same, recomputed when they change, and still shown to an observer.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "ir/builders.h"
#include "runtime/interpreter.h"
#include "tests/unit/test_support.h"

using namespace ember;

namespace {

// y = x + position, position = Range(0, rows of x) as a column: a shape-static chain
// (Shape, Gather, Range, Cast, Unsqueeze) beside the data.
ir::Model positions_model() {
  ir::Model m = test::empty_model(17);
  m.graph.inputs.push_back(test::value_info("x", DType::kF32));
  m.graph.outputs.push_back(test::value_info("y", DType::kF32));
  m.graph.set_initializer("zero", Tensor::scalar<int64_t>(0));
  m.graph.set_initializer("one", Tensor::scalar<int64_t>(1));
  m.graph.set_initializer("axes", Tensor::from_vector<int64_t>({1}, {1}));
  auto add = [&](const std::string& op, std::vector<std::string> in, std::string out, std::vector<ir::Attribute> attrs = {}) {
    m.graph.nodes.push_back(test::node(op, op + "_" + out, std::move(in), {std::move(out)}, std::move(attrs)));
  };
  add("Shape", {"x"}, "shape");
  add("Gather", {"shape", "zero"}, "rows");
  add("Range", {"zero", "rows", "one"}, "range");
  add("Cast", {"range"}, "position", {ir::int_attribute("to", 1)});
  add("Unsqueeze", {"position", "axes"}, "column");
  add("Add", {"x", "column"}, "y");
  return m;
}

std::vector<float> run(runtime::Interpreter& interp, const Tensor& x, const runtime::ValueObserver& observer = nullptr) {
  auto out = interp.run({{"x", x}}, observer);
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  return test::floats_of((*out)[0]);
}

}  // namespace

TEST_CASE("interpreter: shape-static values are reused while the feeds keep their shapes") {
  const ir::Model model = positions_model();
  auto reused = runtime::Interpreter::create(model, {});
  REQUIRE(reused.ok());
  for (const Shape& shape : {Shape{3, 4}, Shape{3, 4}, Shape{5, 4}, Shape{5, 4}, Shape{3, 4}}) {
    for (uint32_t seed : {1u, 2u}) {
      const Tensor x = test::normal_tensor(shape, seed);
      auto fresh = runtime::Interpreter::create(model, {});
      REQUIRE(fresh.ok());
      const std::vector<float> want = run(**fresh, x), got = run(**reused, x);
      CHECK(got == want);
      for (int64_t r = 0; r < shape[0]; ++r)  // y - x is the row index
        CHECK(got[size_t(r * 4)] - x.data<float>()[r * 4] == doctest::Approx(double(r)));
    }
  }
  // An observer sees every value, the reused shape-static ones included, on every run.
  int positions_seen = 0;
  auto observer = [&](const std::string& name, const Tensor&) {
    positions_seen += name == "position";
    return Status::Ok();
  };
  const Tensor x = test::normal_tensor({3, 4}, 3);
  run(**reused, x, observer);
  run(**reused, x, observer);
  CHECK(positions_seen == 2);
}
