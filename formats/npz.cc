#include "formats/npz.h"

#include <zip.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "formats/atomic_file.h"
#include "formats/mapped_file.h"
#include "formats/npy.h"
#include "ir/memory_limits.h"

namespace ember::formats {
namespace {

// Deflate cannot expand data by more than about 1032:1; a larger claim is a corrupt or hostile
// archive, and trusting it would allocate absurd buffers.
constexpr uint64_t kMaxDeflateRatio = 1032;
// NumPy writes headers of a few hundred bytes; a megabyte is generous for any shape.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct EntryCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

// Reads exactly `size` bytes of an open entry (libzip inflates as it goes).
Status read_exactly(zip_file_t* file, void* out, uint64_t size, const std::string& where) {
  auto* p = static_cast<uint8_t*>(out);
  uint64_t done = 0;
  while (done < size) {
    const zip_int64_t n = zip_fread(file, p + done, size - done);
    if (n < 0) return invalid_input(where + ": " + zip_file_strerror(file));
    if (n == 0) return invalid_input(where + ": entry is shorter than its recorded size");
    done += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

// Streams one entry into a tensor: the .npy header first, checked against the entry's
// recorded size and the memory limits, then the data straight into the tensor's storage. No
// more than the recorded size is ever inflated (a 42 MB member claiming 9 GB is refused from
// its first bytes, not after inflating it).
Result<Tensor> read_entry(zip_t* archive, zip_uint64_t index, const std::string& where) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive, index, 0, &st) != 0) return invalid_input(where + ": " + zip_strerror(archive));
  const zip_uint64_t needed = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  if ((st.valid & needed) != needed) return invalid_input(where + ": entry sizes are unknown");
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    return unsupported(where + ": encrypted entries are not supported");
  const bool plausible = st.comp_method == ZIP_CM_STORE ? st.size == st.comp_size
                                                        : st.size <= st.comp_size * kMaxDeflateRatio + 1024;
  if (!plausible) return invalid_input(where + ": entry size " + std::to_string(st.size) + " is implausible");
  std::unique_ptr<zip_file_t, EntryCloser> file(zip_fopen_index(archive, index, 0));
  if (!file) return invalid_input(where + ": " + zip_strerror(archive));
  std::string header(std::min<zip_uint64_t>(st.size, 12), '\0');
  EMBER_TRY(read_exactly(file.get(), header.data(), header.size(), where));
  EMBER_ASSIGN_OR_RETURN(const size_t header_end, npy_header_length(header.data(), header.size(), where));
  if (header_end > st.size || header_end > kMaxHeaderBytes)
    return invalid_input(where + ": .npy header of " + std::to_string(header_end) + " bytes does not fit the entry");
  const size_t prefix = header.size();
  header.resize(header_end);
  EMBER_TRY(read_exactly(file.get(), header.data() + prefix, header_end - prefix, where));
  EMBER_ASSIGN_OR_RETURN(NpyLayout layout, parse_npy_header(header.data(), header.size(), where));
  if (layout.data_bytes != st.size - header_end)
    return invalid_input(where + ": " + std::string(dtype_name(layout.dtype)) + " " + shape_to_string(layout.shape) +
                         " needs " + std::to_string(layout.data_bytes) + " data bytes, the entry holds " +
                         std::to_string(st.size - header_end));
  EMBER_TRY(check_allocation(layout.data_bytes, where));
  Tensor tensor = Tensor::zeros(layout.dtype, layout.shape);
  EMBER_TRY(read_exactly(file.get(), tensor.raw_mutable(), layout.data_bytes, where));
  char extra;
  // Reading past the end makes libzip verify the CRC.
  const zip_int64_t tail = zip_fread(file.get(), &extra, 1);
  if (tail < 0) return invalid_input(where + ": " + zip_file_strerror(file.get()));
  if (tail > 0) return invalid_input(where + ": entry is longer than its recorded size");
  EMBER_TRY(check_npy_bools(layout, static_cast<const uint8_t*>(tensor.raw()), where));
  return tensor;
}

}  // namespace

Result<std::map<std::string, Tensor>> read_npz(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, map_file(path));
  return parse_npz(file->data(), file->size(), path);
}

Result<std::map<std::string, Tensor>> parse_npz(const void* data, size_t size, const std::string& path) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(data, size, 0, &error);
  if (!source) {
    zip_error_fini(&error);
    return internal_error(path + ": cannot create a zip source");
  }
  Archive archive(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!archive) {
    zip_source_free(source);  // still ours when opening fails
    const std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return invalid_input(path + ": not a valid .npz archive (" + text + ")");
  }
  zip_error_fini(&error);
  std::map<std::string, Tensor> tensors;
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    const char* raw_name = zip_get_name(archive.get(), index, 0);
    if (!raw_name) return invalid_input(path + ": " + zip_strerror(archive.get()));
    std::string key = raw_name;
    if (!key.empty() && key.back() == '/') continue;  // a directory entry
    const std::string where = path + " entry '" + key + "'";
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    if (tensors.count(key)) return invalid_input(where + ": the key '" + key + "' appears twice");
    EMBER_ASSIGN_OR_RETURN(Tensor tensor, read_entry(archive.get(), index, where));
    tensors.emplace(std::move(key), std::move(tensor));
  }
  return tensors;
}

Status write_npz(const std::string& path, const std::map<std::string, Tensor>& tensors) {
  // libzip writes nothing at all for an archive without entries; NumPy expects the bare
  // end-of-central-directory record.
  if (tensors.empty()) return write_string_atomic(path, std::string("PK\x05\x06", 4) + std::string(18, '\0'));
  std::vector<std::string> entries;  // libzip reads them at zip_close
  entries.reserve(tensors.size());
  for (const auto& [key, tensor] : tensors) {
    if (key.empty()) return invalid_input("cannot write '" + path + "': an entry has an empty name");
    auto bytes = npy_bytes(tensor);
    if (!bytes.ok()) return bytes.status().with_context("cannot write '" + path + "' entry '" + key + "'");
    entries.push_back(std::move(bytes).value());
  }
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_error_fini(&error);
  if (!buffer) return internal_error("cannot create an in-memory zip buffer");
  zip_source_keep(buffer);  // survives zip_close so its bytes can be read back
  std::unique_ptr<zip_source_t, decltype(&zip_source_free)> buffer_owner(buffer, zip_source_free);
  zip_error_init(&error);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  const int open_code = zip_error_code_zip(&error);
  zip_error_fini(&error);
  if (!archive) return internal_error("cannot create an in-memory zip archive: " + zip_error_text(open_code));
  size_t i = 0;
  for (const auto& [key, tensor] : tensors) {
    const std::string& bytes = entries[i++];
    zip_source_t* entry = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    zip_int64_t index = entry ? zip_file_add(archive, (key + ".npy").c_str(), entry, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (entry) zip_source_free(entry);
      const std::string text = zip_strerror(archive);
      zip_discard(archive);
      return internal_error("cannot add '" + key + "' to '" + path + "': " + text);
    }
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  if (zip_close(archive) != 0) {
    const std::string text = zip_strerror(archive);
    zip_discard(archive);
    return internal_error("cannot build '" + path + "': " + text);
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_stat(buffer, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(buffer) != 0)
    return internal_error("cannot read back the zip archive for '" + path + "'");
  std::string zipped(st.size, '\0');
  const zip_int64_t n = zip_source_read(buffer, zipped.data(), st.size);
  zip_source_close(buffer);
  if (n < 0 || static_cast<zip_uint64_t>(n) != st.size)
    return internal_error("cannot read back the zip archive for '" + path + "'");
  return write_string_atomic(path, zipped);
}

}  // namespace ember::formats
