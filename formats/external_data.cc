#include "formats/external_data.h"

#include <charconv>
#include <optional>

#include "formats/tensor_proto.h"

namespace ember::formats {
namespace {

std::optional<uint64_t> parse_size(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

Result<std::shared_ptr<MappedFile>> ExternalDataReader::mapped(const std::string& location, const std::string& what) {
  auto it = files_.find(location);
  if (it != files_.end()) return it->second;
  EMBER_ASSIGN_OR_RETURN(InputFile opened, open_confined(base_dir_, location, what));
  const std::string path = base_dir_.empty() ? location : base_dir_ + "/" + location;
  auto file = map_input_file(opened, path);
  if (!file.ok()) return file.status().with_context(what);
  files_[location] = *file;
  return file;
}

Result<Tensor> ExternalDataReader::read(const onnx::TensorProto& proto, DType dtype, Shape shape, size_t nbytes) {
  const std::string what = "tensor '" + proto.name() + "'";
  std::string location;
  std::optional<uint64_t> offset, length;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      const auto value = parse_size(entry.value());
      if (!value) return invalid_input(what + ": external data " + entry.key() + " '" + entry.value() + "' is not a size");
      (entry.key() == "offset" ? offset : length) = value;
    }
  }
  if (location.empty()) return invalid_input(what + ": external data has no location");
  if (dtype == DType::kString) return unsupported(what + ": string tensors cannot use external data");
  auto file = mapped(location, what + ": external data");
  if (!file.ok()) return file.status();
  const std::string& path = (*file)->path();
  const uint64_t size = (*file)->size();
  const uint64_t begin = offset.value_or(0);
  if (begin > size)
    return invalid_input(what + ": external data offset " + std::to_string(begin) + " is past the end of '" + path +
                         "' (" + std::to_string(size) + " bytes)");
  const uint64_t count = length.value_or(size - begin);
  if (count > size - begin)
    return invalid_input(what + ": external data range [" + std::to_string(begin) + ", +" + std::to_string(count) +
                         ") is past the end of '" + path + "' (" + std::to_string(size) + " bytes)");
  if (count != nbytes)
    return invalid_input(what + ": external data holds " + std::to_string(count) + " bytes, but " +
                         std::string(dtype_name(dtype)) + " " + shape_to_string(shape) + " needs " +
                         std::to_string(nbytes));
  std::shared_ptr<MappedFile> owner = *file;
  uint8_t* data = owner->mutable_data() + begin;
  return view_or_aligned_copy(dtype, std::move(shape), std::move(owner), data, nbytes);
}

}  // namespace ember::formats
