#include <algorithm>
#include <iterator>

#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {

#define GRAD_FAMILY(family) void register_##family##_grads(GradRegistry&);
#include "runtime/grad/grad_rules.def"
#undef GRAD_FAMILY

void GradRegistry::add(std::string op_type, IndexMask differentiable, NeedsFunction needs, BackwardFunction backward,
                       std::string domain, SupportsFunction supports) {
  rules_.push_back({std::move(op_type), differentiable, needs, backward, std::move(domain), supports});
}

void GradRegistry::add_sequence_rule(std::string op_type, IndexMask differentiable, NeedsFunction needs,
                                     BackwardFunction backward) {
  add(std::move(op_type), differentiable, needs, backward);
  rules_.back().takes_sequences = true;
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
  static constexpr std::string_view kOps[] = {
      // shapes, sizes and index generators
      "Shape", "Size", "ConstantOfShape", "Range", "EyeLike", "OneHot", "NonZero",
      // comparisons, logic and bit operations (bool or integer outputs)
      "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf",
      "BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor",
      // indices and piecewise-constant functions (zero gradient almost everywhere)
      // a sequence's length, whether an optional holds a value, a new empty sequence
      "SequenceLength", "OptionalHasElement", "SequenceEmpty",
      "ArgMax", "ArgMin", "Floor", "Ceil", "Round", "Sign", "Hardmax", "Unique", "NonMaxSuppression",
      // random draws (no input they are differentiable in)
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli", "Multinomial",
      // signal constants built from sizes alone
      "HannWindow", "HammingWindow", "BlackmanWindow", "MelWeightMatrix",
      // integer-valued quantized arithmetic (its outputs are integers)
      "QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul",
      // strings
      "StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch", "TfIdfVectorizer"};
  return std::find(std::begin(kOps), std::end(kOps), op_type) != std::end(kOps);
}

}  // namespace ember::runtime::grad
