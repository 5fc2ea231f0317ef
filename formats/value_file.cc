#include "formats/value_file.h"

#include <filesystem>

#include "formats/npy.h"
#include "formats/npz.h"
#include "formats/value_pb.h"
#include "ir/memory_limits.h"

namespace ember::formats {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The index an .npz entry name gives ("arr_3" or "3"), or -1.
int64_t entry_index(const std::string& key) {
  const std::string digits = key.rfind("arr_", 0) == 0 ? key.substr(4) : key;
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  if (digits.size() > 1 && digits[0] == '0') return -1;
  return std::stoll(digits);
}

Result<Value> sequence_from_npz(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(auto entries, read_npz(path));
  EMBER_TRY(check_sequence_length(int64_t(entries.size()), path));
  std::vector<Tensor> elements(entries.size());
  std::vector<bool> seen(entries.size(), false);
  for (auto& [key, tensor] : entries) {
    const int64_t i = entry_index(key);
    if (i < 0 || i >= int64_t(entries.size()) || seen[size_t(i)])
      return invalid_input(path + ": entry '" + key + "' is not one of arr_0 .. arr_" + std::to_string(entries.size() - 1) +
                           " (a sequence's elements in order, as np.savez(path, *tensors) names them)");
    seen[size_t(i)] = true;
    elements[size_t(i)] = std::move(tensor);
  }
  for (const auto& t : elements)
    if (t.dtype() != elements[0].dtype())
      return invalid_input(path + ": the sequence mixes element types (" + std::string(dtype_name(elements[0].dtype())) + " and " +
                           std::string(dtype_name(t.dtype())) + ")");
  return Value::sequence(elements.empty() ? DType::kUndefined : elements[0].dtype(), std::move(elements));
}

void collect(const Value& value, const std::string& index, std::vector<std::pair<std::string, Tensor>>& out) {
  if (value.is_tensor()) {
    out.push_back({index, value.tensor()});
  } else if (value.is_optional()) {
    if (value.has_element()) collect(value.element(), index, out);
  } else if (value.depth() > 1) {
    for (size_t i = 0; i < value.items().size(); ++i) collect(value.items()[i], index + "." + std::to_string(i), out);
  } else {
    for (size_t i = 0; i < value.elements().size(); ++i) out.push_back({index + "." + std::to_string(i), value.elements()[i]});
  }
}

}  // namespace

Result<Value> read_value_file(const std::string& path, const ir::ValueInfo& declared) {
  if (ends_with(path, ".pb")) return read_value_pb(path, declared);
  if (ends_with(path, ".npz")) return sequence_from_npz(path);
  // .npy, and any other name (as before sequences: an .npy under another name still reads).
  auto t = read_npy(path);
  if (!t.ok() && !ends_with(path, ".npy"))
    return t.status().with_context("input '" + declared.name + "': " + path +
                                   " is read as .npy (a tensor); name a sequence FILE.npz, any value FILE.pb");
  if (!t.ok()) return t.status();
  return Value(std::move(t).value());
}

Result<ValueFileFormat> parse_value_file_format(const std::string& name) {
  if (name == "npy") return ValueFileFormat::kNpy;
  if (name == "npz") return ValueFileFormat::kNpz;
  if (name == "pb") return ValueFileFormat::kPb;
  return invalid_input("unknown sequence output format '" + name + "' (npy, npz or pb)");
}

std::vector<std::pair<std::string, Tensor>> tensors_with_index(const Value& value) {
  std::vector<std::pair<std::string, Tensor>> out;
  collect(value, "", out);
  return out;
}

Result<std::vector<std::string>> write_value_files(const std::string& dir, const std::string& base, const std::string& name,
                                                   const Value& value, ValueFileFormat format) {
  const auto in_dir = [&](const std::string& file) { return (std::filesystem::path(dir) / file).string(); };
  std::vector<std::string> written;
  if (!value.is_tensor() && format == ValueFileFormat::kPb) {
    written.push_back(in_dir(base + ".pb"));
    EMBER_TRY(write_value_pb(written.back(), name, value));
    return written;
  }
  const auto tensors = tensors_with_index(value);
  if (!value.is_tensor() && format == ValueFileFormat::kNpz) {
    if (value.is_optional() && !value.has_element()) return written;
    if (value.is_optional() && value.element().is_tensor()) {
      written.push_back(in_dir(base + ".npy"));
      EMBER_TRY(write_npy(written.back(), value.element().tensor()));
      return written;
    }
    std::map<std::string, Tensor> entries;
    for (const auto& [index, t] : tensors) {
      std::string key = "arr" + index;  // ".0.1" -> "arr_0_1"
      for (char& c : key)
        if (c == '.') c = '_';
      entries[key] = t;
    }
    written.push_back(in_dir(base + ".npz"));
    EMBER_TRY(write_npz(written.back(), entries));
    return written;
  }
  for (const auto& [index, t] : tensors) {
    written.push_back(in_dir(base + index + ".npy"));
    EMBER_TRY(write_npy(written.back(), t));
  }
  return written;
}

}  // namespace ember::formats
