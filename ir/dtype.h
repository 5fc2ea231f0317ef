// DType: element types with one traits table, so no code switches on dtype in many places.
// Values equal ONNX TensorProto.DataType, including INT4 (22) and UINT4 (21), which
// Debian's onnx 1.12 enum does not name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ember {

enum class DType : int32_t {
  kUndefined = 0,
  kF32 = 1,
  kU8 = 2,
  kI8 = 3,
  kU16 = 4,
  kI16 = 5,
  kI32 = 6,
  kI64 = 7,
  kString = 8,
  kBool = 9,
  kF16 = 10,
  kF64 = 11,
  kU32 = 12,
  kU64 = 13,
  kBF16 = 16,
  kU4 = 21,
  kI4 = 22,
};

struct DTypeTraits {
  DType dtype;
  std::string_view name;  // "f32", "i4", ...
  int bits;               // bits per element; 4 for packed int4, 0 for string
  bool is_float;
  bool is_signed;
  bool is_integer;
};

// Returns nullptr for types Ember does not know (complex, float8, ...).
const DTypeTraits* find_dtype_traits(int32_t onnx_type);
const DTypeTraits& traits(DType dtype);
inline std::string_view dtype_name(DType d) { return traits(d).name; }
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes needed to store `count` elements (int4 rounds up to whole bytes). Strings: 0.
size_t storage_bytes(DType dtype, int64_t count);

// C++ type to DType mapping for typed access.
template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kF64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kI8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::kI16; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::kU16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::kU32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<uint64_t> { static constexpr DType value = DType::kU64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

// Half-precision conversions (round to nearest even), used by f16/bf16 tensors and scales.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);

}  // namespace ember
