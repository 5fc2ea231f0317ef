// Quantized element types for the reference quantized kernels: one storage struct per type
// (int8, uint8, int16, uint16, int32 and INT4/UINT4 packed two per byte, low nibble first),
// so each kernel is written once and instantiated per type. Also the rounding rule that
// every quantizer shares: round half to even, then saturate to the type's range.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ir/dtype.h"
#include "ir/nibbles.h"
#include "ir/tensor.h"

namespace ember::runtime {

// Tags for the packed 4-bit types (no C++ type holds one nibble).
struct Int4Tag {};
struct UInt4Tag {};

template <class T>
struct QuantStorage {
  static_assert(std::is_integral_v<T>);
  static constexpr int32_t kMin = static_cast<int32_t>(std::numeric_limits<T>::min());
  static constexpr int32_t kMax = static_cast<int32_t>(std::numeric_limits<T>::max());
  static constexpr DType kDType = DTypeOf<T>::value;
  static int32_t load(const void* data, int64_t i) { return static_cast<const T*>(data)[i]; }
  // `value` is already inside [kMin, kMax].
  static void store(void* data, int64_t i, int32_t value) { static_cast<T*>(data)[i] = static_cast<T>(value); }
};

template <bool kSigned>
struct Nibbles {
  static constexpr int32_t kMin = kSigned ? -8 : 0;
  static constexpr int32_t kMax = kSigned ? 7 : 15;
  static constexpr DType kDType = kSigned ? DType::kI4 : DType::kU4;
  static int32_t load(const void* data, int64_t i) {
    return nibbles::get(static_cast<const uint8_t*>(data), i, kSigned);
  }
  // Read-modify-write of one byte: callers split work on even element indices.
  static void store(void* data, int64_t i, int32_t value) {
    nibbles::set(static_cast<uint8_t*>(data), i, value);
  }
};
template <> struct QuantStorage<Int4Tag> : Nibbles<true> {};
template <> struct QuantStorage<UInt4Tag> : Nibbles<false> {};

// Calls f(tag) with the storage tag of an integer quantized dtype: int8_t, uint8_t, int16_t,
// uint16_t, int32_t (when allow_int32), Int4Tag or UInt4Tag. Returns false for other dtypes.
template <class F>
bool dispatch_quant_dtype(DType dtype, bool allow_int32, F&& f) {
  switch (dtype) {
    case DType::kI8: f(int8_t{}); return true;
    case DType::kU8: f(uint8_t{}); return true;
    case DType::kI16: f(int16_t{}); return true;
    case DType::kU16: f(uint16_t{}); return true;
    case DType::kI4: f(Int4Tag{}); return true;
    case DType::kU4: f(UInt4Tag{}); return true;
    case DType::kI32:
      if (!allow_int32) return false;
      f(int32_t{});
      return true;
    default: return false;
  }
}

// Round half to even for |v| <= 2^22 by the float "magic number" trick (exact under the
// default rounding mode and vectorisable); larger magnitudes are clamped first, which never
// changes a saturated result since every quantized range is far smaller. NaN maps to 0.
inline float round_half_even_clamped(float v) {
  constexpr float kLimit = 4194304.0f;   // 2^22
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  if (!(v == v)) return 0.0f;
  v = v < -kLimit ? -kLimit : (v > kLimit ? kLimit : v);
  return (v + kMagic) - kMagic;  // IEEE arithmetic: the compiler may not fold this (no -ffast-math)
}

// round_half_even(value) + zero_point, saturated to [lo, hi].
inline int32_t quantize_value(float value, int32_t zero_point, int32_t lo, int32_t hi) {
  const float q = round_half_even_clamped(value) + static_cast<float>(zero_point);
  return q <= static_cast<float>(lo) ? lo : (q >= static_cast<float>(hi) ? hi : static_cast<int32_t>(q));
}

// Same rule for a double value (requantization of int32 accumulators). NaN maps to 0.
inline int32_t quantize_double(double value, int32_t zero_point, int32_t lo, int32_t hi) {
  const double q = (value == value ? std::nearbyint(value) : 0.0) + static_cast<double>(zero_point);
  return q <= static_cast<double>(lo) ? lo : (q >= static_cast<double>(hi) ? hi : static_cast<int32_t>(q));
}

}  // namespace ember::runtime
