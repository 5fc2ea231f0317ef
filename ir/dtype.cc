#include "ir/dtype.h"

#include <array>
#include <cstring>

namespace ember {
namespace {

constexpr std::array<DTypeTraits, 16> kTraits = {{
    {DType::kF32, "f32", 32, true, true, false},
    {DType::kU8, "u8", 8, false, false, true},
    {DType::kI8, "i8", 8, false, true, true},
    {DType::kU16, "u16", 16, false, false, true},
    {DType::kI16, "i16", 16, false, true, true},
    {DType::kI32, "i32", 32, false, true, true},
    {DType::kI64, "i64", 64, false, true, true},
    {DType::kString, "string", 0, false, false, false},
    {DType::kBool, "bool", 8, false, false, false},
    {DType::kF16, "f16", 16, true, true, false},
    {DType::kF64, "f64", 64, true, true, false},
    {DType::kU32, "u32", 32, false, false, true},
    {DType::kU64, "u64", 64, false, false, true},
    {DType::kBF16, "bf16", 16, true, true, false},
    {DType::kU4, "u4", 4, false, false, true},
    {DType::kI4, "i4", 4, false, true, true},
}};

constexpr DTypeTraits kUndefinedTraits = {DType::kUndefined, "undefined", 0, false, false, false};

}  // namespace

const DTypeTraits* find_dtype_traits(int32_t onnx_type) {
  for (const auto& t : kTraits)
    if (static_cast<int32_t>(t.dtype) == onnx_type) return &t;
  return nullptr;
}

const DTypeTraits& traits(DType dtype) {
  const DTypeTraits* t = find_dtype_traits(static_cast<int32_t>(dtype));
  return t ? *t : kUndefinedTraits;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& t : kTraits)
    if (t.name == name) return t.dtype;
  return std::nullopt;
}

size_t storage_bytes(DType dtype, int64_t count) {
  const int bits = traits(dtype).bits;
  return static_cast<size_t>((count * bits + 7) / 8);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      mantissa &= 0x3ff;
      bits = sign | (exponent << 23) | (mantissa << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // overflow to inf
  if (abs < 0x38800000u) {  // subnormal or zero in half
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((abs - 0x38000000u) >> 13);
  const uint32_t rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  const uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

}  // namespace ember
