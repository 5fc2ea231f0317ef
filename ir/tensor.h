// Tensor: dtype + shape + a view of bytes owned by someone else (a file mapping, a parsed
// protobuf string, the interpreter's arena) or by the tensor itself. Copying a Tensor copies
// the view, never the bytes, so a model's weights are held once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/status.h"

namespace ember {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);  // "[1, 256, 384]"

class Tensor {
 public:
  Tensor() = default;

  // Allocates zero-filled, 64-byte aligned storage; over memory_limits() throws AllocationRefused.
  static Tensor zeros(DType dtype, Shape shape);
  // The same, for a large output that threads fill once in full: its pages come straight
  // from the kernel, which zeroes each one at its first write, so they are first touched by
  // the threads that fill them, in parallel, not by one memset on the calling thread. Only
  // for such outputs: recycled buffers (the interpreter's) are cheaper from zeros().
  static Tensor fresh_zeros(DType dtype, Shape shape);
  // Views bytes kept alive by `owner`. The caller guarantees nbytes matches dtype and shape.
  static Tensor view(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data, size_t nbytes);
  static Tensor strings(Shape shape, std::vector<std::string> values);
  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <class T>
  static Tensor scalar(T value) { return from_vector<T>({}, {value}); }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_[static_cast<size_t>(axis)]; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return nbytes_; }

  const void* raw() const { return data_; }
  void* raw_mutable() { return data_; }
  template <class T> const T* data() const { return static_cast<const T*>(data_); }
  template <class T> T* mutable_data() { return static_cast<T*>(data_); }
  const std::vector<std::string>& string_values() const { return *strings_; }

  // Same bytes, new shape (numel must match). Used by Reshape/Flatten/Squeeze without copying.
  Tensor reshaped(Shape shape) const;
  // A deep copy with its own storage.
  Tensor clone() const;
  // True when both tensors have the same dtype, shape and bytes.
  bool same_content(const Tensor& other) const;
  // Converts any numeric tensor to float (a new tensor), for observers and comparisons.
  Result<std::vector<float>> to_floats() const;
  // Reads an integer tensor (i32/i64/u8...) as int64 values, for shape-like inputs.
  Result<std::vector<int64_t>> to_int64s() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  std::shared_ptr<std::vector<std::string>> strings_;
};

template <class T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t = zeros(DTypeOf<T>::value, std::move(shape));
  T* out = t.mutable_data<T>();
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) out[i] = values[i];
  return t;
}

}  // namespace ember
