// The elementwise family: arithmetic, comparison and logic with numpy broadcasting,
// one-input math, and Cast. Each entry is (op, opset since which these semantics hold,
// kernel); the kernels live in elementwise_*.cc. Ops whose earlier versions differ only in
// the types they allow share one entry, since the kernels accept the union. Versions before
// 7 of the binary ops are kept for old exports (broadcast/axis attributes).
#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/half_fallback.h"

namespace ember::runtime {
namespace {

struct Entry {
  const char* op;
  int since;
  RunFunction run;
};

template <RunFunction kernel>
constexpr RunFunction kLegacy = with_legacy_broadcast<with_half_support<kernel>>;

constexpr Entry kElementwiseKernels[] = {
    {"Add", 1, kLegacy<run_add>},
    {"Sub", 1, kLegacy<run_sub>},
    {"Mul", 1, kLegacy<run_mul>},
    {"Div", 1, kLegacy<run_div>},
    {"Pow", 1, kLegacy<run_pow>},
    {"Equal", 1, kLegacy<run_equal>},
    {"Less", 1, kLegacy<run_less>},
    {"Greater", 1, kLegacy<run_greater>},
    {"And", 1, with_legacy_broadcast<run_and>},
    {"Or", 1, with_legacy_broadcast<run_or>},
    {"Xor", 1, with_legacy_broadcast<run_xor>},
    {"Add", 7, with_half_support<run_add>},
    {"Sub", 7, with_half_support<run_sub>},
    {"Mul", 7, with_half_support<run_mul>},
    {"Div", 7, with_half_support<run_div>},
    {"Pow", 7, with_half_support<run_pow>},
    {"Mod", 10, with_half_support<run_mod>},
    {"Max", 1, with_half_support<run_max>},
    {"Min", 1, with_half_support<run_min>},
    {"Sum", 1, with_half_support<run_sum>},
    {"Mean", 1, with_half_support<run_mean>},
    {"Equal", 7, with_half_support<run_equal>},
    {"Less", 7, with_half_support<run_less>},
    {"LessOrEqual", 12, with_half_support<run_less_or_equal>},
    {"Greater", 7, with_half_support<run_greater>},
    {"GreaterOrEqual", 12, with_half_support<run_greater_or_equal>},
    {"And", 7, run_and},
    {"Or", 7, run_or},
    {"Xor", 7, run_xor},
    {"Not", 1, run_not},
    {"BitShift", 11, run_bit_shift},
    {"Where", 9, run_where},
    {"Abs", 6, with_half_support<run_abs>},
    {"Neg", 6, with_half_support<run_neg>},
    {"Sign", 9, with_half_support<run_sign>},
    {"Sqrt", 6, with_half_support<run_sqrt>},
    {"Reciprocal", 6, with_half_support<run_reciprocal>},
    {"Exp", 6, with_half_support<run_exp>},
    {"Log", 6, with_half_support<run_log>},
    {"Sin", 7, with_half_support<run_sin>},
    {"Cos", 7, with_half_support<run_cos>},
    {"Tan", 7, with_half_support<run_tan>},
    {"Asin", 7, with_half_support<run_asin>},
    {"Acos", 7, with_half_support<run_acos>},
    {"Atan", 7, with_half_support<run_atan>},
    {"Sinh", 9, with_half_support<run_sinh>},
    {"Cosh", 9, with_half_support<run_cosh>},
    {"Asinh", 9, with_half_support<run_asinh>},
    {"Acosh", 9, with_half_support<run_acosh>},
    {"Atanh", 9, with_half_support<run_atanh>},
    {"Erf", 9, with_half_support<run_erf>},
    {"Floor", 6, with_half_support<run_floor>},
    {"Ceil", 6, with_half_support<run_ceil>},
    {"Round", 11, with_half_support<run_round>},
    {"IsNaN", 9, with_half_support<run_is_nan>},
    {"IsInf", 10, with_half_support<run_is_inf>},
    {"Cast", 6, run_cast},
    {"CastLike", 15, run_cast_like},
};

}  // namespace

void register_elementwise_kernels(KernelRegistry& registry) {
  for (const Entry& e : kElementwiseKernels) registry.add_function(e.op, "", e.since, e.run);
}

}  // namespace ember::runtime
