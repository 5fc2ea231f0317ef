#include <algorithm>
#include <array>

#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {

#define GRAD_FAMILY(family) void register_##family##_grads(GradRegistry&);
#include "runtime/grad/grad_rules.def"
#undef GRAD_FAMILY

void GradRegistry::add(std::string op_type, IndexMask differentiable, NeedsFunction needs, BackwardFunction backward,
                       std::string domain, SupportsFunction supports) {
  rules_.push_back({std::move(op_type), differentiable, needs, backward, std::move(domain), supports});
}

const GradRule* GradRegistry::find(std::string_view op_type, std::string_view domain) const {
  if (domain == "ai.onnx") domain = "";
  for (const auto& rule : rules_)
    if (rule.op_type == op_type && rule.domain == domain) return &rule;
  return nullptr;
}

const GradRegistry& default_grad_registry() {
  static const GradRegistry registry = [] {
    GradRegistry r;
#define GRAD_FAMILY(family) register_##family##_grads(r);
#include "runtime/grad/grad_rules.def"
#undef GRAD_FAMILY
    return r;
  }();
  return registry;
}

bool is_non_differentiable_op(std::string_view op_type) {
  static constexpr std::array<std::string_view, 28> kOps = {
      "Shape",   "Size",     "Equal",     "Less",    "LessOrEqual", "Greater",         "GreaterOrEqual",
      "And",     "Or",       "Xor",       "Not",     "IsNaN",       "IsInf",           "ArgMax",
      "ArgMin",  "NonZero",  "Floor",     "Ceil",    "Round",       "Sign",            "ConstantOfShape",
      "Range",   "EyeLike",  "OneHot",    "BitShift", "RandomNormalLike", "RandomUniformLike", "Bernoulli"};
  return std::find(kOps.begin(), kOps.end(), op_type) != kOps.end();
}

}  // namespace ember::runtime::grad
