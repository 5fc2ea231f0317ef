#include "ir/tensor.h"
#include "ir/nibbles.h"

#include "ir/dtype_dispatch.h"
#include "ir/memory_limits.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <limits>

namespace ember {

// Saturates instead of overflowing (a hostile shape must not be undefined behaviour): a count of
// INT64_MAX elements is then refused by the allocation caps and the shape checks downstream.
// A zero dim makes the count 0 even when the other dims' product would overflow.
int64_t shape_numel(const Shape& shape) {
  for (int64_t d : shape)
    if (d == 0) return 0;  // empty whatever the other dims are
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return std::numeric_limits<int64_t>::max();
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

// Allocations of at least this many bytes that fresh_zeros maps straight from the kernel.
constexpr size_t kFreshPagesFrom = size_t(1) << 20;

size_t padded_allocation(size_t nbytes) { return (nbytes + 63) / 64 * 64 + 64; }  // never zero, room for SIMD tails

// The bytes of a numeric tensor of this shape. Model-controlled sizes are checked before
// anything is allocated (memory_limits.h): over the limits throws AllocationRefused.
size_t checked_tensor_bytes(DType dtype, const Shape& shape) {
  auto bytes = checked_storage_bytes(dtype, shape);
  if (!bytes.ok()) throw AllocationRefused(bytes.status().message());
  Status fits = check_allocation(*bytes, std::string(dtype_name(dtype)) + " tensor " + shape_to_string(shape));
  if (!fits.ok()) throw AllocationRefused(fits.message());
  return static_cast<size_t>(*bytes);
}

}  // namespace

Tensor Tensor::fresh_zeros(DType dtype, Shape shape) {
  if (dtype == DType::kString) return zeros(dtype, std::move(shape));
  const size_t bytes = checked_tensor_bytes(dtype, shape), alloc = padded_allocation(bytes);
  if (alloc < kFreshPagesFrom) return zeros(dtype, std::move(shape));
  void* p = mmap(nullptr, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw AllocationRefused("cannot map " + format_bytes(alloc) + " for a " + std::string(dtype_name(dtype)) + " tensor " +
                            shape_to_string(shape));
  note_allocated(alloc);
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::shared_ptr<void>(p, [alloc](void* q) {
    note_released(alloc);
    munmap(q, alloc);
  });
  t.nbytes_ = bytes;
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  if (dtype == DType::kString) {
    auto count = checked_storage_bytes(DType::kU8, t.shape_);  // one "byte" per element: the count
    if (!count.ok()) throw AllocationRefused(count.status().message());
    Status fits = check_allocation(*count * sizeof(std::string), "string tensor " + shape_to_string(t.shape_));
    if (!fits.ok()) throw AllocationRefused(fits.message());
    t.strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(*count));
    return t;
  }
  t.nbytes_ = checked_tensor_bytes(dtype, t.shape_);
  const size_t alloc = padded_allocation(t.nbytes_);
  void* p = std::aligned_alloc(64, alloc);
  if (!p) throw AllocationRefused("cannot allocate " + format_bytes(alloc) + " for a " + std::string(dtype_name(dtype)) +
                                  " tensor " + shape_to_string(t.shape_));
  std::memset(p, 0, alloc);
  note_allocated(alloc);
  t.owner_ = std::shared_ptr<void>(p, [alloc](void* q) {
    note_released(alloc);
    std::free(q);
  });
  t.data_ = p;
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data, size_t nbytes) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::move(owner);
  t.data_ = data;
  t.nbytes_ = nbytes;
  return t;
}

Tensor Tensor::strings(Shape shape, std::vector<std::string> values) {
  Tensor t;
  t.dtype_ = DType::kString;
  t.shape_ = std::move(shape);
  t.strings_ = std::make_shared<std::vector<std::string>>(std::move(values));
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (dtype_ == DType::kString) return strings(shape_, *strings_);
  Tensor t = zeros(dtype_, shape_);
  if (nbytes_) std::memcpy(t.data_, data_, nbytes_);
  return t;
}

bool Tensor::same_content(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (dtype_ == DType::kString) return *strings_ == *other.strings_;
  return nbytes_ == other.nbytes_ && (nbytes_ == 0 || std::memcmp(data_, other.data_, nbytes_) == 0);
}

Result<std::vector<float>> Tensor::to_floats() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  const int64_t n = numel();
  if (dtype_ == DType::kF16 || dtype_ == DType::kBF16) {
    const auto convert = dtype_ == DType::kF16 ? half_to_float : bfloat16_to_float;
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = convert(data<uint16_t>()[i]);
    return out;
  }
  if (dtype_ == DType::kI4 || dtype_ == DType::kU4) {
    nibbles::unpack(data<uint8_t>(), n, dtype_ == DType::kI4, out.data());
    return out;
  }
  const bool known = dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = static_cast<float>(data<T>()[i]);
  });
  if (!known) return invalid_input("cannot convert a " + std::string(dtype_name(dtype_)) + " tensor to float");
  return out;
}

Result<std::vector<int64_t>> Tensor::to_int64s() const {
  if (!traits(dtype_).is_integer && dtype_ != DType::kBool)
    return invalid_input("expected an integer tensor, got " + std::string(dtype_name(dtype_)));
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  const int64_t n = numel();
  const bool known = dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = static_cast<int64_t>(data<T>()[i]);
  });
  if (!known) return invalid_input("cannot read a " + std::string(dtype_name(dtype_)) + " tensor as integers");
  return out;
}

}  // namespace ember
