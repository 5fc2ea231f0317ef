// Type sets for the computing kernels (elementwise, activation, normalization, reduce):
// each op states which element types ONNX allows it, and dispatch_types() instantiates its
// body only for those, answering `unsupported` for the rest. f16/bf16 are handled around
// the kernel by half_fallback.h, so the sets here only hold plain C++ types.
#pragma once
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ir/dtype.h"
#include "ir/dtype_dispatch.h"
#include "ir/status.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_util.h"

namespace ember::runtime {

enum class TypeSet {
  kFloat,         // float, double
  kSignedNumber,  // float, double, signed integers
  kNumber,        // every numeric type, not bool
  kInteger,       // signed and unsigned integers
  kUnsigned,      // unsigned integers
  kBool,          // bool
  kAny,           // every plain type, bool included
};

template <TypeSet S, class T>
constexpr bool in_type_set() {
  constexpr bool is_bool = std::is_same_v<T, bool>;
  constexpr bool is_float = std::is_floating_point_v<T>;
  constexpr bool is_int = std::is_integral_v<T> && !is_bool;
  switch (S) {
    case TypeSet::kFloat: return is_float;
    case TypeSet::kSignedNumber: return is_float || (is_int && std::is_signed_v<T>);
    case TypeSet::kNumber: return !is_bool;
    case TypeSet::kInteger: return is_int;
    case TypeSet::kUnsigned: return is_int && std::is_unsigned_v<T>;
    case TypeSet::kBool: return is_bool;
    case TypeSet::kAny: return true;
  }
  return false;
}

// Calls body(T{}) when `dtype` maps to a C++ type in S; otherwise an `unsupported` error
// naming the node and the type.
template <TypeSet S, class Body>
Status dispatch_types(const RunContext& ctx, DType dtype, Body&& body) {
  bool handled = false;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (in_type_set<S, T>()) {
      body(tag);
      handled = true;
    }
  });
  return handled ? Status::Ok() : unsupported_dtype(ctx, dtype);
}

// Integer arithmetic that wraps like two's complement hardware instead of being undefined.
template <class T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}
template <class T>
T wrapping_sub(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  } else {
    return a - b;
  }
}
template <class T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}

// Float to integer with defined results: NaN gives 0, out-of-range values saturate.
template <class T>
T saturate_to_integer(double v) {
  static_assert(std::is_integral_v<T>);
  if (v != v) return 0;
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v <= lo) return std::numeric_limits<T>::min();
  if (v >= hi) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

}  // namespace ember::runtime
