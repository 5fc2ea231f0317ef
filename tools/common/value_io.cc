#include "tools/common/value_io.h"

#include <cmath>
#include <cstdio>

namespace ember::cli {
namespace {

// Output names may hold '/' or ':'; file names must not.
std::string file_base_for(const std::string& value_name) {
  std::string s = value_name;
  for (char& c : s)
    if (c == '/' || c == ':' || c == '\\') c = '_';
  return s;
}

nlohmann::json tensor_entry(const std::string& name, const Tensor& t) {
  nlohmann::json entry = {{"name", name}, {"kind", "tensor"}, {"dtype", std::string(dtype_name(t.dtype()))}, {"shape", t.shape()}};
  if (auto values = t.to_floats(); values.ok() && !values->empty()) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (float v : *values) sum += v, lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
    entry["min"] = lo;
    entry["max"] = hi;
    entry["mean"] = sum / static_cast<double>(values->size());
  }
  return entry;
}

std::string tensor_line(const nlohmann::json& e) {
  char line[512];
  std::string text = e["name"].get<std::string>();
  std::snprintf(line, sizeof line, "%-24s %-5s %s", text.c_str(), e["dtype"].get<std::string>().c_str(),
                shape_to_string(e["shape"].get<Shape>()).c_str());
  text = line;
  if (e.contains("mean")) {
    std::snprintf(line, sizeof line, "  min %.6g max %.6g mean %.6g", e["min"].get<double>(), e["max"].get<double>(), e["mean"].get<double>());
    text += line;
  }
  if (e.contains("file")) text += "  -> " + e["file"].get<std::string>();
  return text + "\n";
}

}  // namespace

Result<std::map<std::string, Value>> read_input_values(const std::vector<std::string>& specs,
                                                       const std::vector<const ir::ValueInfo*>& inputs) {
  std::map<std::string, Value> feeds;
  for (const auto& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_input("--input '" + spec + "' is not name=FILE");
    const std::string name = spec.substr(0, eq);
    const ir::ValueInfo* declared = nullptr;
    for (const auto* in : inputs)
      if (in->name == name) declared = in;
    if (!declared) {
      std::string names;
      for (const auto* in : inputs) names += (names.empty() ? "" : ", ") + in->name;
      return invalid_input("--input '" + spec + "': the model has no input named '" + name + "' (inputs: " + names + ")");
    }
    auto value = formats::read_value_file(spec.substr(eq + 1), *declared);
    if (!value.ok()) return value.status().with_context("input '" + name + "'");
    feeds[name] = std::move(value).value();
  }
  return feeds;
}

Result<nlohmann::json> emit_output(const std::string& name, const Value& value, const std::string& output_dir,
                                   formats::ValueFileFormat format) {
  nlohmann::json entry;
  if (value.is_tensor()) {
    entry = tensor_entry(name, value.tensor());
  } else {
    entry = {{"name", name}, {"kind", kind_name(value.kind())}, {"type", value.type_string()}, {"describe", value.describe()}};
    if (value.is_sequence()) entry["length"] = value.length();
    else entry["has_element"] = value.has_element();
    entry["elements"] = nlohmann::json::array();
    for (const auto& [index, t] : formats::tensors_with_index(value)) entry["elements"].push_back(tensor_entry(name + index, t));
  }
  if (output_dir.empty()) return entry;
  EMBER_ASSIGN_OR_RETURN(std::vector<std::string> files, formats::write_value_files(output_dir, file_base_for(name), name, value, format));
  entry["files"] = files;
  if (value.is_tensor() && files.size() == 1) entry["file"] = files[0];
  if (!value.is_tensor() && format == formats::ValueFileFormat::kNpy && files.size() == entry["elements"].size())
    for (size_t i = 0; i < files.size(); ++i) entry["elements"][i]["file"] = files[i];
  return entry;
}

std::string outputs_text(const nlohmann::json& outputs) {
  std::string text;
  for (const auto& e : outputs) {
    if (e["kind"] == "tensor") {
      text += tensor_line(e);
      continue;
    }
    text += e["name"].get<std::string>() + ": " + e["describe"].get<std::string>() + " (" + e["type"].get<std::string>() + ")";
    if (e.contains("files") && (e["elements"].empty() || !e["elements"][0].contains("file")))
      for (const auto& f : e["files"]) text += "  -> " + f.get<std::string>();
    text += "\n";
    for (const auto& t : e["elements"]) text += tensor_line(t);
  }
  return text;
}

}  // namespace ember::cli
