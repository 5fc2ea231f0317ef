#include "formats/npy.h"

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "formats/atomic_file.h"
#include "formats/mapped_file.h"
#include "formats/tensor_proto.h"
#include "ir/memory_limits.h"

namespace ember::formats {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kHeaderAlignment = 64;

struct NpyType {
  DType dtype;
  std::string_view descr;
};

constexpr std::array<NpyType, 12> kNpyTypes = {{
    {DType::kF32, "<f4"}, {DType::kF64, "<f8"}, {DType::kF16, "<f2"}, {DType::kI8, "|i1"},
    {DType::kU8, "|u1"},  {DType::kI16, "<i2"}, {DType::kU16, "<u2"}, {DType::kI32, "<i4"},
    {DType::kU32, "<u4"}, {DType::kI64, "<i8"}, {DType::kU64, "<u8"}, {DType::kBool, "|b1"},
}};

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A recursive-descent reader for the one dict literal NumPy writes:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  Result<NpyHeader> parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space();
    if (!consume('{')) return error("expected '{'");
    while (true) {
      skip_space();
      if (consume('}')) break;
      std::string key;
      if (!read_quoted(&key)) return error("expected a quoted key");
      skip_space();
      if (!consume(':')) return error("expected ':' after '" + key + "'");
      skip_space();
      if (key == "descr" && !seen_descr) {
        if (!read_quoted(&header.descr)) return error("descr is not a string");
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_order) {
        if (!read_bool(&header.fortran_order)) return error("fortran_order is not True or False");
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        if (!read_shape(&header.shape)) return error("shape is not a tuple of non-negative integers");
        seen_shape = true;
      } else {
        return error("unexpected or repeated key '" + key + "'");
      }
      skip_space();
      if (consume(',')) continue;
      if (consume('}')) break;
      return error("expected ',' or '}'");
    }
    skip_space();
    if (pos_ != text_.size()) return error("trailing characters after the dict");
    if (!seen_descr || !seen_order || !seen_shape) return error("descr, fortran_order and shape are required");
    return header;
  }

 private:
  Status error(const std::string& what) const {
    return invalid_input("malformed header: " + what + " at character " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool read_quoted(std::string* out) {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return false;
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return false;
    *out = std::string(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return true;
  }
  bool read_bool(bool* out) {
    for (auto [word, value] : {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}})
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        *out = value;
        return true;
      }
    return false;
  }
  bool read_shape(Shape* out) {
    if (!consume('(')) return false;
    while (true) {
      skip_space();
      if (consume(')')) return true;
      int64_t value = 0;
      const char* begin = text_.data() + pos_;
      auto [ptr, ec] = std::from_chars(begin, text_.data() + text_.size(), value);
      if (ec != std::errc() || ptr == begin || value < 0 || *begin == '-') return false;
      pos_ += static_cast<size_t>(ptr - begin);
      out->push_back(value);
      skip_space();
      if (consume(',')) continue;
      skip_space();
      if (consume(')')) return true;
      return false;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

const NpyType* find_by_descr(std::string_view descr) {
  for (const auto& t : kNpyTypes)
    if (t.descr == descr) return &t;
  return nullptr;
}

const NpyType* find_by_dtype(DType dtype) {
  for (const auto& t : kNpyTypes)
    if (t.dtype == dtype) return &t;
  return nullptr;
}

uint64_t read_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Result<std::string> npy_header(const Tensor& tensor) {
  const NpyType* type = find_by_dtype(tensor.dtype());
  if (!type) return unsupported(".npy cannot hold " + std::string(dtype_name(tensor.dtype())) + " tensors");
  std::string dict = "{'descr': '" + std::string(type->descr) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i) dict += std::to_string(tensor.shape()[i]) + ", ";
  if (tensor.rank() > 1) dict.resize(dict.size() - 2);  // (n,) keeps its comma, (a, b) does not
  else if (tensor.rank() == 1) dict.pop_back();
  dict += "), }";
  // Pad with spaces and a final newline so that the data starts 64-byte aligned.
  for (int version = 1; version <= 2; ++version) {
    const size_t preamble = version == 1 ? 10 : 12;
    const size_t total = (preamble + dict.size() + 1 + kHeaderAlignment - 1) / kHeaderAlignment * kHeaderAlignment;
    const size_t header_len = total - preamble;
    if (version == 1 && header_len > 0xffff) continue;
    std::string out(kMagic, kMagicSize);
    out += static_cast<char>(version);
    out += '\0';
    for (size_t i = 0; i < preamble - 8; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
    out += dict;
    out.append(header_len - dict.size() - 1, ' ');
    out += '\n';
    return out;
  }
  return unsupported(".npy header too long");
}

}  // namespace

Result<size_t> npy_header_length(const void* data, size_t size, const std::string& where) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (size < 10 || std::memcmp(bytes, kMagic, kMagicSize) != 0) return invalid_input(where + ": not a .npy file");
  const int major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    return unsupported(where + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " is not supported");
  const size_t preamble = major == 1 ? 10 : 12;
  if (size < preamble) return invalid_input(where + ": truncated .npy header");
  return preamble + read_le(bytes + 8, major == 1 ? 2 : 4);
}

Result<NpyLayout> parse_npy_header(const void* data, size_t size, const std::string& where) {
  EMBER_ASSIGN_OR_RETURN(const size_t header_end, npy_header_length(data, size, where));
  if (header_end > size) return invalid_input(where + ": truncated .npy header");
  const size_t preamble = static_cast<const uint8_t*>(data)[6] == 1 ? 10 : 12;
  const std::string_view text(static_cast<const char*>(data) + preamble, header_end - preamble);
  auto header = HeaderParser(text).parse();
  if (!header.ok()) return header.status().with_context(where);
  const NpyType* type = find_by_descr(header->descr);
  if (!type) return unsupported(where + ": .npy dtype '" + header->descr + "' is not supported");
  if (header->fortran_order) return unsupported(where + ": Fortran-order arrays are not supported; save in C order");
  EMBER_ASSIGN_OR_RETURN(const int64_t numel, checked_numel(header->shape, where));
  return NpyLayout{type->dtype, std::move(header->shape), header_end, storage_bytes(type->dtype, numel)};
}

Status check_npy_bools(const NpyLayout& layout, const uint8_t* payload, const std::string& where) {
  if (layout.dtype != DType::kBool) return Status::Ok();
  for (size_t i = 0; i < layout.data_bytes; ++i)
    if (payload[i] > 1) return invalid_input(where + ": bool element " + std::to_string(i) + " is not 0 or 1");
  return Status::Ok();
}

Result<Tensor> parse_npy(const void* data, size_t size, const std::string& display_name) {
  const std::string& where = display_name;
  EMBER_ASSIGN_OR_RETURN(NpyLayout layout, parse_npy_header(data, size, where));
  const size_t available = size - layout.data_offset;
  if (available != layout.data_bytes)
    return invalid_input(where + ": " + std::string(dtype_name(layout.dtype)) + " " + shape_to_string(layout.shape) +
                         " needs " + std::to_string(layout.data_bytes) + " data bytes, the file holds " +
                         std::to_string(available));
  const uint8_t* payload = static_cast<const uint8_t*>(data) + layout.data_offset;
  EMBER_TRY(check_npy_bools(layout, payload, where));
  EMBER_TRY(check_allocation(layout.data_bytes, where));
  Tensor tensor = Tensor::zeros(layout.dtype, std::move(layout.shape));
  if (layout.data_bytes) std::memcpy(tensor.raw_mutable(), payload, layout.data_bytes);
  return tensor;
}

Result<Tensor> read_npy(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, map_file(path));
  return parse_npy(file->data(), file->size(), path);
}

Result<std::string> npy_bytes(const Tensor& tensor) {
  EMBER_ASSIGN_OR_RETURN(std::string bytes, npy_header(tensor));
  bytes.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return bytes;
}

Status write_npy(const std::string& path, const Tensor& tensor) {
  auto header = npy_header(tensor);
  if (!header.ok()) return header.status().with_context("cannot write '" + path + "'");
  return write_file_atomic(path, [&](std::ostream& out) {
    out.write(header->data(), static_cast<std::streamsize>(header->size()));
    out.write(static_cast<const char*>(tensor.raw()), static_cast<std::streamsize>(tensor.nbytes()));
    return Status::Ok();
  });
}

}  // namespace ember::formats
