// Cast and CastLike between every numeric type (f16/bf16 and bool included) and string.
// Float to integer saturates and maps NaN to 0 (ONNX leaves it undefined; C++ would be UB);
// integer narrowing wraps; to f16/bf16 rounds to nearest even. Strings use the shortest
// text that reads back to the same value, as numpy prints them.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

struct Half {};
struct BFloat16 {};
template <class T>
constexpr bool kIsHalf = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <class T>
using Storage = std::conditional_t<kIsHalf<T>, uint16_t, T>;

// Like dispatch_dtype, plus the two 16-bit float types.
template <class F>
bool dispatch_castable(DType dtype, F&& f) {
  if (dtype == DType::kF16) return f(Half{}), true;
  if (dtype == DType::kBF16) return f(BFloat16{}), true;
  return dispatch_dtype(dtype, f);
}

template <class T>
auto load(Storage<T> v) {
  if constexpr (std::is_same_v<T, Half>) {
    return half_to_float(v);
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return bfloat16_to_float(v);
  } else {
    return v;
  }
}

template <class D, class V>
Storage<D> store(V v) {
  if constexpr (std::is_same_v<D, Half>) {
    return float_to_half(static_cast<float>(v));
  } else if constexpr (std::is_same_v<D, BFloat16>) {
    return float_to_bfloat16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != V(0);
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<V>) {
    return saturate_to_integer<D>(static_cast<double>(v));
  } else {
    return static_cast<D>(v);
  }
}

template <class V>
std::string format_number(V v) {
  if constexpr (std::is_same_v<V, bool>) {
    return v ? "True" : "False";
  } else if constexpr (std::is_integral_v<V>) {
    return std::to_string(v);
  } else {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "INF" : "-INF";
    char buffer[64];
    const V magnitude = std::fabs(v);
    const bool positional = magnitude == 0 || (magnitude >= V(1e-4) && magnitude < V(1e16));
    const auto format = positional ? std::chars_format::fixed : std::chars_format::scientific;
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), v, format);
    std::string text(buffer, result.ptr);
    if (positional && text.find('.') == std::string::npos) text += ".0";
    return text;
  }
}

// Parses one string as the target type; false when it is not a number.
template <class D>
bool parse_number(const std::string& text, Storage<D>& out) {
  const char* begin = text.c_str();
  char* end = nullptr;
  if constexpr (std::is_same_v<D, float>) {
    out = std::strtof(begin, &end);
  } else if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool> && std::is_signed_v<D>) {
    out = static_cast<D>(std::strtoll(begin, &end, 10));
  } else if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool>) {
    out = static_cast<D>(std::strtoull(begin, &end, 10));
  } else if constexpr (std::is_same_v<D, bool>) {
    if (text == "True" || text == "true") return out = true, true;
    if (text == "False" || text == "false") return out = false, true;
    out = std::strtod(begin, &end) != 0;
  } else {
    out = store<D>(std::strtod(begin, &end));
  }
  return end != begin && *end == '\0';
}

Status cast_from_string(RunContext& ctx, const Tensor& x, DType to) {
  const std::vector<std::string>& values = x.string_values();
  Status status = Status::Ok();
  const bool known = dispatch_castable(to, [&](auto tag) {
    using D = decltype(tag);
    Storage<D>* out = ctx.allocate_output(0, to, x.shape()).template mutable_data<Storage<D>>();
    for (size_t i = 0; i < values.size() && status.ok(); ++i)
      if (!parse_number<D>(values[i], out[i]))
        status = invalid_input(ctx.where() + ": cannot read '" + values[i] + "' as " + std::string(dtype_name(to)));
  });
  return known ? status : unsupported_dtype(ctx, to);
}

Status cast_to_string(RunContext& ctx, const Tensor& x) {
  std::vector<std::string> values(static_cast<size_t>(x.numel()));
  const bool known = dispatch_castable(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const Storage<S>* in = x.data<Storage<S>>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = format_number(load<S>(in[i]));
  });
  if (!known) return unsupported_dtype(ctx, x.dtype());
  ctx.outputs[0] = Tensor::strings(x.shape(), std::move(values));
  return Status::Ok();
}

Status cast_tensor(RunContext& ctx, const Tensor& x, DType to) {
  if (x.dtype() == DType::kString && to == DType::kString) {
    ctx.outputs[0] = x;
    return Status::Ok();
  }
  if (x.dtype() == DType::kString) return cast_from_string(ctx, x, to);
  if (to == DType::kString) return cast_to_string(ctx, x);
  bool to_known = true;
  const bool from_known = dispatch_castable(x.dtype(), [&](auto from) {
    using S = decltype(from);
    to_known = dispatch_castable(to, [&](auto target) {
      using D = decltype(target);
      Tensor& y = ctx.allocate_output(0, to, x.shape());
      map_unary(x.data<Storage<S>>(), y.mutable_data<Storage<D>>(), x.numel(),
                [](Storage<S> v) { return store<D>(load<S>(v)); });
    });
  });
  if (!from_known) return unsupported_dtype(ctx, x.dtype());
  if (!to_known) return unsupported_dtype(ctx, to);
  return Status::Ok();
}

}  // namespace

Status run_cast(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const ir::Attribute* to = ctx.node.find_attr("to");
  if (!to) return invalid_input(ctx.where() + ": attribute 'to' is required");
  const DTypeTraits* target = find_dtype_traits(static_cast<int32_t>(to->i));
  if (!target) return unsupported(ctx.where() + ": cannot cast to ONNX type " + std::to_string(to->i));
  return cast_tensor(ctx, ctx.input(0), target->dtype);
}

Status run_cast_like(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  return cast_tensor(ctx, ctx.input(0), ctx.input(1).dtype());
}

}  // namespace ember::runtime
