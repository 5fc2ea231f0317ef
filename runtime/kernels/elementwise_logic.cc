// Comparisons (bool results), boolean logic, BitShift and Where, with numpy broadcasting.
#include <array>
#include <string>
#include <type_traits>

#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/kernels/unary_kernel.h"

namespace ember::runtime {
namespace {

template <TypeSet S, class Op>
Status run_compare(RunContext& ctx, const Op& op) {
  EMBER_ASSIGN_OR_RETURN(Tensor * out, begin_binary(ctx, DType::kBool));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return dispatch_types<S>(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    broadcast_binary<T, T, bool>(a, b, *out, [&op](T x, T y) -> bool { return op(x, y); });
  });
}

template <class Op>
Status run_logic(RunContext& ctx, const Op& op) {
  EMBER_ASSIGN_OR_RETURN(Tensor * out, begin_binary(ctx, DType::kBool));
  if (ctx.input(0).dtype() != DType::kBool) return unsupported_dtype(ctx, ctx.input(0).dtype());
  broadcast_binary<bool, bool, bool>(ctx.input(0), ctx.input(1), *out, op);
  return Status::Ok();
}

// Where by element size: selecting never looks at the values, so one instantiation per
// width serves every type (f16 and bf16 included).
template <class U>
void select_elements(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out) {
  const BroadcastPlan<3> plan = plan_broadcast<3>({&cond.shape(), &x.shape(), &y.shape()}, out.shape());
  const bool* pc = cond.data<bool>();
  const U* px = static_cast<const U*>(x.raw());
  const U* py = static_cast<const U*>(y.raw());
  U* po = static_cast<U*>(out.raw_mutable());
  parallel_for(plan.numel, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for_each_run(plan, begin, end, [&](const std::array<int64_t, 3>& off, int64_t o, int64_t len,
                                       const std::array<int64_t, 3>& st) {
      const bool* c = pc + off[0];
      const U* a = px + off[1];
      const U* b = py + off[2];
      U* z = po + o;
      if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
        blocked_loop(0, len, [&](int64_t i) { z[i] = c[i] ? a[i] : b[i]; });
      } else {
        for (int64_t i = 0; i < len; ++i) z[i] = c[i * st[0]] ? a[i * st[1]] : b[i * st[2]];
      }
    });
  });
}

}  // namespace

Status run_equal(RunContext& ctx) {
  return run_compare<TypeSet::kAny>(ctx, [](auto a, auto b) { return a == b; });
}
Status run_less(RunContext& ctx) {
  return run_compare<TypeSet::kNumber>(ctx, [](auto a, auto b) { return a < b; });
}
Status run_less_or_equal(RunContext& ctx) {
  return run_compare<TypeSet::kNumber>(ctx, [](auto a, auto b) { return a <= b; });
}
Status run_greater(RunContext& ctx) {
  return run_compare<TypeSet::kNumber>(ctx, [](auto a, auto b) { return a > b; });
}
Status run_greater_or_equal(RunContext& ctx) {
  return run_compare<TypeSet::kNumber>(ctx, [](auto a, auto b) { return a >= b; });
}

Status run_and(RunContext& ctx) {
  return run_logic(ctx, [](bool a, bool b) { return a && b; });
}
Status run_or(RunContext& ctx) {
  return run_logic(ctx, [](bool a, bool b) { return a || b; });
}
Status run_xor(RunContext& ctx) {
  return run_logic(ctx, [](bool a, bool b) { return a != b; });
}
Status run_not(RunContext& ctx) {
  return run_map<TypeSet::kBool>(ctx, [](bool a) { return !a; });
}

// Shifts by the element's width or more give 0 (C leaves them undefined).
Status run_bit_shift(RunContext& ctx) {
  const std::string direction = ctx.node.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT")
    return invalid_input(ctx.where() + ": attribute direction must be LEFT or RIGHT, got '" + direction + "'");
  const bool left = direction == "LEFT";
  EMBER_ASSIGN_OR_RETURN(Tensor * out, begin_binary(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return dispatch_types<TypeSet::kUnsigned>(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    constexpr T bits = static_cast<T>(sizeof(T) * 8);
    broadcast_binary<T, T, T>(a, b, *out, [left](T x, T s) -> T {
      if (s >= bits) return 0;
      return static_cast<T>(left ? x << s : x >> s);
    });
  });
}

Status run_where(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 3, 3));
  const Tensor& cond = ctx.input(0);
  if (cond.dtype() != DType::kBool)
    return invalid_input(ctx.where() + ": condition must be bool, got " + std::string(dtype_name(cond.dtype())));
  EMBER_TRY(require_same_dtype(ctx, 1, 2));
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  const int bits = traits(x.dtype()).bits;
  if (bits != 8 && bits != 16 && bits != 32 && bits != 64) return unsupported_dtype(ctx, x.dtype());
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({cond.shape(), x.shape(), y.shape()}, ctx.where()));
  Tensor& out = ctx.allocate_output(0, x.dtype(), std::move(shape));
  switch (bits) {
    case 8: select_elements<uint8_t>(cond, x, y, out); break;
    case 16: select_elements<uint16_t>(cond, x, y, out); break;
    case 32: select_elements<uint32_t>(cond, x, y, out); break;
    default: select_elements<uint64_t>(cond, x, y, out); break;
  }
  return Status::Ok();
}

}  // namespace ember::runtime
