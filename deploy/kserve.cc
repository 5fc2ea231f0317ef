#include "deploy/kserve.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "formats/json_depth.h"
#include "ir/memory_limits.h"

namespace ember::deploy {
namespace {

using json = nlohmann::json;

constexpr int64_t kMaxElements = int64_t{1} << 24;
// A request nests three levels ({"inputs": [{"data": [...]}]}); parameters may add a few.
constexpr int kMaxRequestDepth = 16;

// A piece of the request quoted in a message: at most 120 characters, invalid UTF-8 replaced.
std::string shown(const json& j) {
  std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 120 ? text.substr(0, 120) + "..." : text;
}

struct DatatypeName {
  DType dtype;
  const char* name;
};
constexpr DatatypeName kDatatypes[] = {{DType::kF32, "FP32"}, {DType::kF64, "FP64"}, {DType::kI64, "INT64"}, {DType::kI32, "INT32"},
                                       {DType::kI8, "INT8"},  {DType::kU8, "UINT8"},  {DType::kBool, "BOOL"}};

template <class T>
Status fill(Tensor& t, const json& data, const std::string& where) {
  T* out = t.mutable_data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const json& v = data[static_cast<size_t>(i)];
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) return invalid_input(where + ": element " + std::to_string(i) + " is not a boolean");
      out[i] = v.get<bool>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) return invalid_input(where + ": element " + std::to_string(i) + " is not a number");
      const double x = v.get<double>();
      if (!(std::abs(x) <= static_cast<double>(std::numeric_limits<T>::max())))
        return invalid_input(where + ": element " + std::to_string(i) + " is out of range");
      out[i] = static_cast<T>(x);
    } else {
      if (!v.is_number_integer()) return invalid_input(where + ": element " + std::to_string(i) + " is not an integer");
      const auto x = v.get<int64_t>();  // an unsigned value above INT64_MAX would wrap: refused first
      if ((v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) ||
          x < static_cast<int64_t>(std::numeric_limits<T>::min()) || x > static_cast<int64_t>(std::numeric_limits<T>::max()))
        return invalid_input(where + ": element " + std::to_string(i) + " is out of range");
      out[i] = static_cast<T>(x);
    }
  }
  return Status::Ok();
}

Result<Tensor> parse_tensor(const json& in, const ir::ValueInfo& info) {
  const std::string where = "input '" + info.name + "'";
  if (!in.contains("shape") || !in["shape"].is_array()) return invalid_input(where + ": 'shape' must be an array");
  if (!in.contains("datatype") || !in["datatype"].is_string()) return invalid_input(where + ": 'datatype' must be a string");
  if (!in.contains("data") || !in["data"].is_array()) return invalid_input(where + ": 'data' must be a flat array");
  const auto expected = kserve_datatype(info.elem_type);
  if (!expected || in["datatype"].get<std::string>() != *expected)
    return invalid_input(where + ": datatype " + shown(in["datatype"]) + ", the model expects " + (expected ? *expected : "an unsupported type"));
  Shape shape;
  int64_t numel = 1;
  for (const auto& d : in["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxElements)
      return invalid_input(where + ": bad shape " + shown(in["shape"]));
    shape.push_back(d.get<int64_t>());
    numel *= shape.back();
    if (numel > kMaxElements) return invalid_input(where + ": shape " + shown(in["shape"]) + " has too many elements");
  }
  if (info.has_shape) {
    bool match = info.dims.size() == shape.size();
    for (size_t i = 0; match && i < shape.size(); ++i) match = info.dims[i].value < 0 || info.dims[i].value == shape[i];
    std::string want = "[";
    for (size_t i = 0; i < info.dims.size(); ++i) want += (i ? "," : "") + (info.dims[i].value < 0 ? std::string("-1") : std::to_string(info.dims[i].value));
    if (!match) return invalid_input(where + ": shape " + shown(in["shape"]) + " does not fit the model's " + want + "]");
  }
  if (static_cast<int64_t>(in["data"].size()) != numel)
    return invalid_input(where + ": " + std::to_string(in["data"].size()) + " data elements for shape " + shown(in["shape"]));
  EMBER_ASSIGN_OR_RETURN(const uint64_t bytes, checked_storage_bytes(info.elem_type, shape));
  EMBER_TRY(check_allocation(bytes, where));  // never an AllocationRefused out of a request handler
  Tensor t = Tensor::zeros(info.elem_type, shape);
  const json& data = in["data"];
  Status st;
  switch (info.elem_type) {
    case DType::kF32: st = fill<float>(t, data, where); break;
    case DType::kF64: st = fill<double>(t, data, where); break;
    case DType::kI64: st = fill<int64_t>(t, data, where); break;
    case DType::kI32: st = fill<int32_t>(t, data, where); break;
    case DType::kI8: st = fill<int8_t>(t, data, where); break;
    case DType::kU8: st = fill<uint8_t>(t, data, where); break;
    case DType::kBool: st = fill<bool>(t, data, where); break;
    default: st = invalid_input(where + ": unsupported datatype");
  }
  EMBER_TRY(st);
  return t;
}

Status parse_parameters(const json& p, InferRequest& r) {
  if (!p.is_object()) return invalid_input("'parameters' must be an object");
  if (p.contains("priority")) {
    if (!p["priority"].is_string()) return invalid_input("parameter 'priority' must be a string (urgent, normal, low)");
    EMBER_ASSIGN_OR_RETURN(Tier t, parse_tier(p["priority"].get<std::string>()));
    r.priority = t;
  }
  if (p.contains("timeout_ms")) {
    if (!p["timeout_ms"].is_number_integer() || p["timeout_ms"].get<int64_t>() < 1 || p["timeout_ms"].get<int64_t>() > 3600000)
      return invalid_input("parameter 'timeout_ms' must be an integer in [1, 3600000]");
    r.timeout_ms = p["timeout_ms"].get<int>();
  }
  return Status::Ok();
}

json dims_json(const ir::ValueInfo& v) {
  json dims = json::array();
  for (const auto& d : v.dims) dims.push_back(d.value >= 0 ? d.value : -1);
  return dims;
}

}  // namespace

std::optional<std::string> kserve_datatype(DType dtype) {
  for (const auto& d : kDatatypes)
    if (d.dtype == dtype) return std::string(d.name);
  return std::nullopt;
}

Result<InferRequest> parse_infer_request(const std::string& body, const std::vector<const ir::ValueInfo*>& inputs) {
  EMBER_TRY(formats::check_json_depth(body, kMaxRequestDepth).with_context("the request body"));
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_input("the request body is not valid JSON");
  if (!j.is_object()) return invalid_input("the request body must be a JSON object");
  InferRequest r;
  if (j.contains("id")) {
    if (!j["id"].is_string()) return invalid_input("'id' must be a string");
    r.id = j["id"].get<std::string>().substr(0, 256);
  }
  if (j.contains("parameters")) EMBER_TRY(parse_parameters(j["parameters"], r));
  if (!j.contains("inputs") || !j["inputs"].is_array()) return invalid_input("the request needs an 'inputs' array");
  for (const auto& in : j["inputs"]) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string()) return invalid_input("every input needs a 'name'");
    const std::string name = in["name"].get<std::string>();
    const ir::ValueInfo* info = nullptr;
    for (const auto* candidate : inputs)
      if (candidate->name == name) info = candidate;
    if (!info) return invalid_input("input '" + name.substr(0, 128) + "' is not an input of the model");
    if (r.feeds.count(name)) return invalid_input("input '" + name + "' is given twice");
    EMBER_ASSIGN_OR_RETURN(Tensor t, parse_tensor(in, *info));
    r.feeds[name] = std::move(t);
  }
  for (const auto* info : inputs)
    if (!r.feeds.count(info->name)) return invalid_input("input '" + info->name + "' is missing");
  int64_t rows = -1;
  for (const auto& [name, t] : r.feeds) {
    if (t.rank() == 0) continue;  // a scalar input has no batch dimension
    if (rows >= 0 && t.dim(0) != rows) return invalid_input("input '" + name + "': the inputs' first dimensions differ");
    rows = t.dim(0);
  }
  return r;
}

namespace {

// A string as a JSON string literal, invalid UTF-8 replaced (never throws).
std::string quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// Each float in its shortest text that reads back to the same float (std::to_chars), written
// straight into the body: building a json array of doubles and printing it with 17 digits
// took a fifth of the server's time for a short GPT-2 request (2048 logits). NaN and
// infinities print as null, as nlohmann's dump does.
template <class T>
void append_numbers(std::string& out, const T* values, int64_t n) {
  char buf[64];
  out.reserve(out.size() + static_cast<size_t>(n) * 12);
  for (int64_t k = 0; k < n; ++k) {
    if (k) out += ',';
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(values[k])) {
        out += "null";
        continue;
      }
    }
    const auto r = std::to_chars(buf, buf + sizeof buf, values[k]);
    out.append(buf, r.ptr);
  }
}

void append_tensor_data(std::string& out, const Tensor& t) {
  if (t.dtype() == DType::kF32) return append_numbers(out, t.data<float>(), t.numel());
  if (t.dtype() == DType::kBool) {
    for (int64_t k = 0; k < t.numel(); ++k) out += std::string(k ? "," : "") + (t.data<bool>()[k] ? "true" : "false");
    return;
  }
  if (auto ints = t.to_int64s(); ints.ok()) return append_numbers(out, ints->data(), static_cast<int64_t>(ints->size()));
  if (auto floats = t.to_floats(); floats.ok()) return append_numbers(out, floats->data(), static_cast<int64_t>(floats->size()));
}

}  // namespace

std::string infer_response_text(const std::string& model_name, const std::string& id, const std::vector<std::string>& names,
                                const std::vector<Tensor>& outputs, const json& parameters) {
  std::string out = "{\"model_name\":" + quoted(model_name);
  if (!id.empty()) out += ",\"id\":" + quoted(id);
  out += ",\"outputs\":[";
  for (size_t i = 0; i < outputs.size() && i < names.size(); ++i) {
    const Tensor& t = outputs[i];
    const auto dt = kserve_datatype(t.dtype());
    out += std::string(i ? "," : "") + "{\"name\":" + quoted(names[i]) + ",\"datatype\":\"" + (dt ? *dt : "FP32") + "\",\"shape\":[";
    for (int d = 0; d < t.rank(); ++d) out += (d ? "," : "") + std::to_string(t.dim(d));
    out += "],\"data\":[";
    append_tensor_data(out, t);
    out += "]}";
  }
  out += "]";
  if (!parameters.is_null()) out += ",\"parameters\":" + parameters.dump(-1, ' ', false, json::error_handler_t::replace);
  return out + "}";
}

json infer_response(const std::string& model_name, const std::string& id, const std::vector<std::string>& names,
                    const std::vector<Tensor>& outputs) {
  return json::parse(infer_response_text(model_name, id, names, outputs, json()));
}

json model_metadata(const std::string& model_name, const ir::Model& model, const std::vector<const ir::ValueInfo*>& inputs) {
  json ins = json::array(), outs = json::array();
  for (const auto* in : inputs) {
    const auto dt = kserve_datatype(in->elem_type);
    ins.push_back({{"name", in->name}, {"datatype", dt ? *dt : "UNSUPPORTED"}, {"shape", dims_json(*in)}});
  }
  for (const auto& out : model.graph.outputs) {
    const auto dt = kserve_datatype(out.elem_type);
    outs.push_back({{"name", out.name}, {"datatype", dt ? *dt : "UNSUPPORTED"}, {"shape", dims_json(out)}});
  }
  return {{"name", model_name}, {"versions", json::array({"1"})}, {"platform", "onnx"}, {"inputs", ins}, {"outputs", outs}};
}

}  // namespace ember::deploy
