// Every default-domain op the interpreter runs has a backward rule, is listed as having no
// gradient (is_non_differentiable_op), or is excluded below with the reason. A new kernel
// without any of the three fails this test, naming the op.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>

#include "runtime/grad/grad_rule.h"
#include "runtime/kernel.h"

namespace ember {
namespace {

struct Exclusion {
  std::string_view op;
  std::string_view reason;
};

// Ops on which a gradient path stops with a cut that names the weights it cuts off.
constexpr Exclusion kExcluded[] = {
    {"Constant", "no inputs: a value source, never between a weight and an output"},
};

bool excluded(std::string_view op) {
  for (const Exclusion& e : kExcluded)
    if (e.op == op) return true;
  return false;
}

}  // namespace

TEST_CASE("grad coverage: every default-domain kernel has a rule, no gradient, or a stated exclusion") {
  namespace rg = runtime::grad;
  std::set<std::string> ops, missing;
  for (const auto& def : runtime::default_registry().all())
    if (def.domain.empty() || def.domain == "ai.onnx") ops.insert(def.op_type);
  REQUIRE(ops.size() > 150);
  size_t with_rule = 0, without_gradient = 0, excluded_ops = 0;
  for (const std::string& op : ops) {
    with_rule += rg::default_grad_registry().find(op, "") != nullptr;
    without_gradient += rg::is_non_differentiable_op(op);
    excluded_ops += excluded(op);
    if (!rg::default_grad_registry().find(op, "") && !rg::is_non_differentiable_op(op) && !excluded(op)) missing.insert(op);
  }
  MESSAGE(ops.size(), " default-domain ops: ", with_rule, " with a backward rule, ", without_gradient, " without gradient, ",
          excluded_ops, " excluded");
  std::string list;
  for (const auto& op : missing) list += " " + op;
  INFO("ops without a rule, a no-gradient listing or an exclusion:", list);
  CHECK(missing.empty());
  // The sequence and optional ops have rules (issue 17) or carry no gradient; Constant has no inputs.
  CHECK(excluded_ops == 1);
  for (const char* op : {"SequenceMap", "SequenceConstruct", "SequenceInsert", "SequenceAt", "SequenceErase", "ConcatFromSequence",
                         "SplitToSequence", "Optional", "OptionalGetElement", "Identity"})
    CHECK_MESSAGE(rg::default_grad_registry().find(op, "") != nullptr, op);
  for (const char* op : {"SequenceEmpty", "SequenceLength", "OptionalHasElement"}) CHECK_MESSAGE(rg::is_non_differentiable_op(op), op);
}

TEST_CASE("grad coverage: the three lists do not overlap") {
  namespace rg = runtime::grad;
  for (const Exclusion& e : kExcluded) {
    INFO(e.op, ": ", e.reason);
    CHECK(rg::default_grad_registry().find(e.op, "") == nullptr);
    CHECK(!rg::is_non_differentiable_op(e.op));
  }
  for (const auto& rule : rg::default_grad_registry().all()) {
    INFO(rule.op_type);
    CHECK(!(rule.domain.empty() && rg::is_non_differentiable_op(rule.op_type)));
  }
}

}  // namespace ember
