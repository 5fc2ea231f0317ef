// One place that maps a runtime DType to its C++ type, so kernels and converters write
// `dispatch_dtype(d, [&](auto tag) { using T = decltype(tag); ... })` instead of switches.
#pragma once
#include <cstdint>

#include "ir/dtype.h"

namespace ember {

// Calls f(T{}) for the C++ element type of a plain numeric dtype (not f16/bf16/int4/string).
// Returns false when the dtype has no plain C++ type.
template <class F>
bool dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32: f(float{}); return true;
    case DType::kF64: f(double{}); return true;
    case DType::kI8: f(int8_t{}); return true;
    case DType::kU8: f(uint8_t{}); return true;
    case DType::kI16: f(int16_t{}); return true;
    case DType::kU16: f(uint16_t{}); return true;
    case DType::kI32: f(int32_t{}); return true;
    case DType::kU32: f(uint32_t{}); return true;
    case DType::kI64: f(int64_t{}); return true;
    case DType::kU64: f(uint64_t{}); return true;
    case DType::kBool: f(bool{}); return true;
    default: return false;
  }
}

}  // namespace ember
