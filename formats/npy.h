// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order, little-endian:
// <f4 <f8 <f2 |i1 |u1 <i2 <u2 <i4 <u4 <i8 <u8 |b1. The header is parsed strictly (it is
// a Python dict literal) because calibration files come from users and are fuzzed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/tensor.h"

namespace ember::formats {

Result<Tensor> read_npy(const std::string& path);
// `display_name` names the data in error messages (a file, or an .npz entry).
Result<Tensor> parse_npy(const void* data, size_t size, const std::string& display_name);

// The complete .npy file for `tensor`; unsupported for dtypes NumPy cannot hold (bf16, int4, string).
Result<std::string> npy_bytes(const Tensor& tensor);
// What an .npy header declares: the element type, the shape, where the data starts, its bytes.
struct NpyLayout {
  DType dtype = DType::kUndefined;
  Shape shape;
  size_t data_offset = 0;
  size_t data_bytes = 0;
};
// The bytes before the data (preamble + header) from the first 10-12 bytes, so a stream
// reader (.npz) knows how much to read before parse_npy_header.
Result<size_t> npy_header_length(const void* data, size_t size, const std::string& display_name);
// Parses the header at the start of `data` (which may hold the header alone).
Result<NpyLayout> parse_npy_header(const void* data, size_t size, const std::string& display_name);
// bool elements must be 0 or 1.
Status check_npy_bools(const NpyLayout& layout, const uint8_t* payload, const std::string& display_name);

// Written atomically, streaming the tensor's bytes after the header.
Status write_npy(const std::string& path, const Tensor& tensor);

}  // namespace ember::formats
