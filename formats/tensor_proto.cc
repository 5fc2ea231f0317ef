#include "formats/tensor_proto.h"

#include <bit>
#include <cstring>

namespace ember::formats {

static_assert(std::endian::native == std::endian::little, "raw tensor bytes are little-endian");

namespace {

constexpr uintptr_t kViewAlignment = 16;

// Copies a typed repeated field element by element into `T` storage (narrowing like ONNX:
// int32_data carries int8/uint8/int16/uint16/bool and the bits of f16/bf16).
template <class T, class Field>
Tensor convert_field(DType dtype, Shape shape, const Field& field) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  T* out = t.mutable_data<T>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
  return t;
}

// The typed repeated field that holds `dtype`, as ONNX defines it.
enum class TypedField { kFloat, kDouble, kInt32, kInt64, kUint64, kString };

TypedField typed_field_for(DType dtype) {
  switch (dtype) {
    case DType::kF32: return TypedField::kFloat;
    case DType::kF64: return TypedField::kDouble;
    case DType::kI64: return TypedField::kInt64;
    case DType::kU32:
    case DType::kU64: return TypedField::kUint64;
    case DType::kString: return TypedField::kString;
    default: return TypedField::kInt32;
  }
}

int typed_field_size(const onnx::TensorProto& p, TypedField field) {
  switch (field) {
    case TypedField::kFloat: return p.float_data_size();
    case TypedField::kDouble: return p.double_data_size();
    case TypedField::kInt32: return p.int32_data_size();
    case TypedField::kInt64: return p.int64_data_size();
    case TypedField::kUint64: return p.uint64_data_size();
    case TypedField::kString: return p.string_data_size();
  }
  return 0;
}

int total_typed_entries(const onnx::TensorProto& p) {
  return p.float_data_size() + p.double_data_size() + p.int32_data_size() + p.int64_data_size() +
         p.uint64_data_size() + p.string_data_size();
}

Result<Tensor> from_typed_fields(onnx::TensorProto& p, DType dtype, Shape shape, int64_t numel, const std::string& what) {
  const TypedField field = typed_field_for(dtype);
  const bool packed4 = dtype == DType::kI4 || dtype == DType::kU4;
  // int4 values are packed two per int32_data entry's low byte, low nibble first.
  const int64_t expected = packed4 ? (numel + 1) / 2 : numel;
  const int have = typed_field_size(p, field);
  if (have != expected || total_typed_entries(p) != have)
    return invalid_input(what + ": " + std::string(dtype_name(dtype)) + " " + shape_to_string(shape) + " needs " +
                         std::to_string(expected) + " values in its typed data field, found " +
                         std::to_string(total_typed_entries(p)));
  switch (field) {
    case TypedField::kFloat: return convert_field<float>(dtype, std::move(shape), p.float_data());
    case TypedField::kDouble: return convert_field<double>(dtype, std::move(shape), p.double_data());
    case TypedField::kInt64: return convert_field<int64_t>(dtype, std::move(shape), p.int64_data());
    case TypedField::kString: {
      std::vector<std::string> values(p.string_data().begin(), p.string_data().end());
      return Tensor::strings(std::move(shape), std::move(values));
    }
    case TypedField::kUint64:
      if (dtype == DType::kU32) return convert_field<uint32_t>(dtype, std::move(shape), p.uint64_data());
      return convert_field<uint64_t>(dtype, std::move(shape), p.uint64_data());
    case TypedField::kInt32: break;
  }
  const int bits = traits(dtype).bits;
  if (packed4 || bits == 8) return convert_field<uint8_t>(dtype, std::move(shape), p.int32_data());
  if (bits == 16) return convert_field<uint16_t>(dtype, std::move(shape), p.int32_data());
  return convert_field<int32_t>(dtype, std::move(shape), p.int32_data());
}

}  // namespace

Result<int64_t> checked_numel(const Shape& dims, const std::string& what) {
  int64_t numel = 1;
  int64_t bound = 1;  // product of max(dim, 1): guards shapes like [0, 2^62] too
  for (int64_t d : dims) {
    if (d < 0) return invalid_input(what + ": negative dimension in shape " + shape_to_string(dims));
    if (d > kMaxTensorElements || __builtin_mul_overflow(bound, d == 0 ? 1 : d, &bound) || bound > kMaxTensorElements)
      return invalid_input(what + ": shape " + shape_to_string(dims) + " is too large");
    numel *= d;
  }
  return numel;
}

Tensor view_or_aligned_copy(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data, size_t nbytes) {
  if (reinterpret_cast<uintptr_t>(data) % kViewAlignment == 0)
    return Tensor::view(dtype, std::move(shape), std::move(owner), data, nbytes);
  Tensor copy = Tensor::zeros(dtype, std::move(shape));
  if (nbytes) std::memcpy(copy.raw_mutable(), data, nbytes);
  return copy;
}

Result<Tensor> tensor_from_proto(onnx::TensorProto& p, ExternalDataReader* external) {
  const std::string what = "tensor '" + p.name() + "'";
  const DTypeTraits* dt = find_dtype_traits(p.data_type());
  if (!dt) return unsupported(what + " has data type " + std::to_string(p.data_type()) + ", which Ember does not support");
  const DType dtype = dt->dtype;
  if (p.has_segment()) return unsupported(what + " is a segment of a larger tensor, which Ember does not support");
  Shape shape(p.dims().begin(), p.dims().end());
  EMBER_ASSIGN_OR_RETURN(const int64_t numel, checked_numel(shape, what));
  const size_t nbytes = storage_bytes(dtype, numel);

  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    if (!external) return invalid_input(what + " uses external data, which is not available here");
    if (p.has_raw_data() || total_typed_entries(p) != 0)
      return invalid_input(what + " has both external data and inline data");
    return external->read(p, dtype, std::move(shape), nbytes);
  }
  if (p.has_raw_data()) {
    if (dtype == DType::kString) return invalid_input(what + ": string tensors cannot use raw_data");
    if (total_typed_entries(p) != 0) return invalid_input(what + " has both raw_data and typed data");
    if (p.raw_data().size() != nbytes)
      return invalid_input(what + ": raw_data holds " + std::to_string(p.raw_data().size()) + " bytes, but " +
                           std::string(dt->name) + " " + shape_to_string(shape) + " needs " + std::to_string(nbytes));
    auto owner = std::make_shared<std::string>(std::move(*p.mutable_raw_data()));
    p.clear_raw_data();
    void* data = owner->data();
    return view_or_aligned_copy(dtype, std::move(shape), std::move(owner), data, nbytes);
  }
  return from_typed_fields(p, dtype, std::move(shape), numel, what);
}

void tensor_header_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* out) {
  if (!name.empty()) out->set_name(name);
  for (int64_t d : tensor.shape()) out->add_dims(d);
  out->set_data_type(static_cast<int32_t>(tensor.dtype()));
}

Status tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* out) {
  if (!tensor.defined()) return invalid_input("tensor '" + name + "' has no data type");
  if (tensor.dtype() != DType::kString && tensor.nbytes() != storage_bytes(tensor.dtype(), tensor.numel()))
    return internal_error("tensor '" + name + "' holds " + std::to_string(tensor.nbytes()) + " bytes for " +
                          std::string(dtype_name(tensor.dtype())) + " " + shape_to_string(tensor.shape()));
  if (tensor.dtype() == DType::kString && tensor.string_values().size() != static_cast<size_t>(tensor.numel()))
    return internal_error("string tensor '" + name + "' holds " + std::to_string(tensor.string_values().size()) +
                          " values for shape " + shape_to_string(tensor.shape()));
  tensor_header_to_proto(tensor, name, out);
  if (tensor.dtype() == DType::kString) {
    for (const auto& s : tensor.string_values()) out->add_string_data(s);
  } else {
    out->set_raw_data(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  }
  return Status::Ok();
}

}  // namespace ember::formats
