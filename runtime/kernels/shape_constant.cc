// Ops that create tensors: Constant (every value_* attribute form), ConstantOfShape, Range.
#include <cmath>
#include <type_traits>

#include "runtime/kernels/shape_common.h"
#include "ir/nibbles.h"
#include "runtime/kernels/shape_ops.h"

namespace ember::runtime {
namespace {

Result<Tensor> constant_from_attribute(const ir::Attribute& a, const std::string& where) {
  if (a.name == "value") {
    if (!a.t.defined()) return invalid_input(where + ": the value attribute holds no tensor");
    return a.t;
  }
  if (a.name == "value_float") return Tensor::scalar<float>(a.f);
  if (a.name == "value_floats") return Tensor::from_vector<float>({int64_t(a.floats.size())}, a.floats);
  if (a.name == "value_int") return Tensor::scalar<int64_t>(a.i);
  if (a.name == "value_ints") return Tensor::from_vector<int64_t>({int64_t(a.ints.size())}, a.ints);
  if (a.name == "value_string") return Tensor::strings({}, {a.s});
  if (a.name == "value_strings") return Tensor::strings({int64_t(a.strings.size())}, a.strings);
  if (a.name == "sparse_value") return unsupported(where + ": sparse constants are not supported");
  return Tensor();
}

// Repeats the one element of `value` over `out` (same dtype).
void fill_with(const Tensor& value, Tensor& out) {
  if (is_packed_nibbles(value.dtype())) {
    const uint8_t nibble = nibbles::low(value.data<uint8_t>()[0]);
    std::fill_n(out.mutable_data<uint8_t>(), out.nbytes(), nibbles::pack_pair(nibble, nibble));
    return;
  }
  dispatch_storage(value.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, std::string>) std::fill_n(out.mutable_data<T>(), out.numel(), value.data<T>()[0]);
  });
}

// Number of elements of Range: max(ceil((limit - start) / delta), 0), exact for integers;
// -1 when it does not fit in int64 (a NaN or infinite bound, or a span that overflows).
template <class T>
int64_t range_count(T start, T limit, T delta) {
  if constexpr (std::is_floating_point_v<T>) {
    const double n = std::ceil((double(limit) - double(start)) / double(delta));
    if (std::isnan(n) || n >= 9.2e18) return -1;
    return n > 0 ? static_cast<int64_t>(n) : 0;
  } else {
    int64_t diff = 0;
    if (__builtin_sub_overflow(int64_t(limit), int64_t(start), &diff)) return -1;
    const int64_t step = int64_t(delta);
    if (step == -1 && diff == INT64_MIN) return -1;
    int64_t n = diff / step;
    if (diff % step != 0 && (diff > 0) == (step > 0)) ++n;
    return n > 0 ? n : 0;
  }
}

}  // namespace

Status run_constant(RunContext& ctx) {
  for (const auto& attr : ctx.node.attributes) {
    EMBER_ASSIGN_OR_RETURN(Tensor value, constant_from_attribute(attr, ctx.where()));
    if (!value.defined()) continue;
    ctx.outputs[0] = std::move(value);
    return Status::Ok();
  }
  return invalid_input(ctx.where() + ": no value attribute (value, value_float(s), value_int(s), value_string(s))");
}

Status run_constant_of_shape(RunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> dims, read_indices(ctx, 0));
  for (int64_t d : dims)
    if (d < 0) return invalid_input(ctx.where() + ": negative dimension " + std::to_string(d) + " in the shape input");
  const ir::Attribute* attr = ctx.node.find_attr("value");
  const Tensor value = attr && attr->t.defined() ? attr->t : Tensor::scalar<float>(0.0f);
  if (value.numel() != 1)
    return invalid_input(ctx.where() + ": the value attribute must hold one element, it holds " +
                         std::to_string(value.numel()));
  Shape shape(dims.begin(), dims.end());
  if (value.dtype() == DType::kString) {
    Tensor out = Tensor::zeros(DType::kString, std::move(shape));  // size-checked (memory_limits.h)
    std::vector<std::string> values(out.string_values().size(), value.string_values()[0]);
    ctx.outputs[0] = Tensor::strings(out.shape(), std::move(values));
    return Status::Ok();
  }
  if (!dispatch_storage(value.dtype(), [](auto) {}) && !is_packed_nibbles(value.dtype()))
    return unsupported_dtype(ctx, value.dtype());
  fill_with(value, ctx.allocate_output(0, value.dtype(), std::move(shape)));
  return Status::Ok();
}

Status run_range(RunContext& ctx) {
  const Tensor& start = ctx.input(0);
  const Tensor& limit = ctx.input(1);
  const Tensor& delta = ctx.input(2);
  const DType dtype = start.dtype();
  if (limit.dtype() != dtype || delta.dtype() != dtype)
    return invalid_input(ctx.where() + ": start, limit and delta must share one element type");
  for (const Tensor* t : {&start, &limit, &delta})
    if (t->numel() != 1) return invalid_input(ctx.where() + ": start, limit and delta must be scalars");
  if (dtype == DType::kBool) return unsupported_dtype(ctx, dtype);
  Status status = Status::Ok();
  const bool known = dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T first = start.data<T>()[0];
    const T step = delta.data<T>()[0];
    if (step == T(0)) {
      status = invalid_input(ctx.where() + ": delta is zero");
      return;
    }
    const int64_t count = range_count<T>(first, limit.data<T>()[0], step);
    if (count < 0) {
      status = invalid_input(ctx.where() + ": the number of elements does not fit in 64 bits");
      return;
    }
    T* out = ctx.allocate_output(0, dtype, {count}).template mutable_data<T>();
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<T>(first + static_cast<T>(i) * step);
  });
  if (!known) return unsupported_dtype(ctx, dtype);
  return status;
}

}  // namespace ember::runtime
