#include "calibration/table.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <fstream>
#include <sstream>

#include "formats/atomic_file.h"
#include "formats/input_file.h"

namespace ember::calibration {

using nlohmann::json;

AffineParams affine_params(double lo, double hi, DType type) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  const double range = hi - lo;
  double scale = range / 255;
  if (!(range > 0)) scale = 1;
  scale = std::clamp(scale, static_cast<double>(FLT_MIN), static_cast<double>(FLT_MAX));
  AffineParams p;
  p.scale = static_cast<float>(scale);
  const double shift = -lo / static_cast<double>(p.scale);
  if (type == DType::kI8)
    p.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-128 + shift), -128.0, 127.0));
  else
    p.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(shift), 0.0, 255.0));
  return p;
}

TableEntry make_table_entry(const ObserverResult& result, CalibrationMethod method) {
  TableEntry e;
  e.method = calibration_method_name(method);
  e.count = result.count;
  e.range = result.tensor;
  e.u8 = affine_params(e.range.clip_lo, e.range.clip_hi, DType::kU8);
  e.s8 = affine_params(e.range.clip_lo, e.range.clip_hi, DType::kI8);
  e.channel_axis = result.channel_axis;
  e.channels = result.channels;
  for (const auto& c : e.channels) {
    e.channels_u8.push_back(affine_params(c.clip_lo, c.clip_hi, DType::kU8));
    e.channels_s8.push_back(affine_params(c.clip_lo, c.clip_hi, DType::kI8));
  }
  if (e.channels.empty()) e.channel_axis.reset();
  return e;
}

namespace {

constexpr const char* kFormat = "ember-calibration-table";
constexpr int kVersion = 1;

json params_json(const AffineParams& p) { return {{"scale", static_cast<double>(p.scale)}, {"zero_point", p.zero_point}}; }

json channel_params_json(const std::vector<AffineParams>& ps) {
  json scales = json::array(), zps = json::array();
  for (const auto& p : ps) {
    scales.push_back(static_cast<double>(p.scale));
    zps.push_back(p.zero_point);
  }
  return {{"scale", scales}, {"zero_point", zps}};
}

json entry_json(const TableEntry& e) {
  json j = {{"method", e.method},         {"count", e.count},           {"min", e.range.min},
            {"max", e.range.max},         {"clip_lo", e.range.clip_lo}, {"clip_hi", e.range.clip_hi},
            {"u8", params_json(e.u8)},    {"s8", params_json(e.s8)}};
  if (!e.channels.empty()) {
    json pc = {{"axis", *e.channel_axis}};
    for (const char* key : {"min", "max", "clip_lo", "clip_hi"}) pc[key] = json::array();
    for (const auto& c : e.channels) {
      pc["min"].push_back(c.min);
      pc["max"].push_back(c.max);
      pc["clip_lo"].push_back(c.clip_lo);
      pc["clip_hi"].push_back(c.clip_hi);
    }
    pc["u8"] = channel_params_json(e.channels_u8);
    pc["s8"] = channel_params_json(e.channels_s8);
    j["per_channel"] = pc;
  }
  return j;
}

// Typed field access that reports the path of a missing or mistyped key.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}
  Status error(const std::string& path, const std::string& what) const { return invalid_input(where_ + ": " + path + " " + what); }

  Result<const json*> field(const json& obj, const std::string& key, const std::string& path) const {
    if (!obj.is_object()) return error(path, "must be an object");
    auto it = obj.find(key);
    if (it == obj.end()) return error(path, "has no '" + key + "'");
    return &*it;
  }
  Result<double> number(const json& obj, const std::string& key, const std::string& path) const {
    EMBER_ASSIGN_OR_RETURN(const json* v, field(obj, key, path));
    if (!v->is_number()) return error(path + "." + key, "must be a number");
    const double d = v->get<double>();
    if (!std::isfinite(d)) return error(path + "." + key, "must be finite");
    return d;
  }
  Result<int64_t> integer(const json& obj, const std::string& key, const std::string& path) const {
    EMBER_ASSIGN_OR_RETURN(const json* v, field(obj, key, path));
    if (!v->is_number_integer()) return error(path + "." + key, "must be an integer");
    return v->get<int64_t>();
  }
  Result<std::string> string(const json& obj, const std::string& key, const std::string& path) const {
    EMBER_ASSIGN_OR_RETURN(const json* v, field(obj, key, path));
    if (!v->is_string()) return error(path + "." + key, "must be a string");
    return v->get<std::string>();
  }
  Result<std::vector<double>> numbers(const json& obj, const std::string& key, const std::string& path, size_t size) const {
    EMBER_ASSIGN_OR_RETURN(const json* v, field(obj, key, path));
    if (!v->is_array() || v->size() != size)
      return error(path + "." + key, "must be an array of " + std::to_string(size) + " numbers");
    std::vector<double> out;
    for (const auto& x : *v) {
      if (!x.is_number()) return error(path + "." + key, "must hold only numbers");
      out.push_back(x.get<double>());
    }
    return out;
  }
  Result<AffineParams> params(const json& obj, const std::string& key, const std::string& path, DType type) const {
    EMBER_ASSIGN_OR_RETURN(const json* p, field(obj, key, path));
    const std::string sub = path + "." + key;
    EMBER_ASSIGN_OR_RETURN(double scale, number(*p, "scale", sub));
    EMBER_ASSIGN_OR_RETURN(int64_t zp, integer(*p, "zero_point", sub));
    EMBER_TRY(check_params(scale, zp, type, sub));
    return AffineParams{static_cast<float>(scale), static_cast<int32_t>(zp)};
  }
  Result<std::vector<AffineParams>> channel_params(const json& obj, const std::string& key, const std::string& path,
                                                   DType type, size_t size) const {
    EMBER_ASSIGN_OR_RETURN(const json* p, field(obj, key, path));
    const std::string sub = path + "." + key;
    EMBER_ASSIGN_OR_RETURN(std::vector<double> scales, numbers(*p, "scale", sub, size));
    EMBER_ASSIGN_OR_RETURN(std::vector<double> zps, numbers(*p, "zero_point", sub, size));
    std::vector<AffineParams> out;
    for (size_t i = 0; i < size; ++i) {
      if (zps[i] != std::nearbyint(zps[i])) return error(sub + ".zero_point", "must hold integers");
      EMBER_TRY(check_params(scales[i], static_cast<int64_t>(zps[i]), type, sub + "[" + std::to_string(i) + "]"));
      out.push_back({static_cast<float>(scales[i]), static_cast<int32_t>(zps[i])});
    }
    return out;
  }

 private:
  Status check_params(double scale, int64_t zp, DType type, const std::string& path) const {
    if (!(scale > 0) || !std::isfinite(scale)) return error(path + ".scale", "must be positive and finite");
    const int64_t lo = type == DType::kI8 ? -128 : 0, hi = type == DType::kI8 ? 127 : 255;
    if (zp < lo || zp > hi) return error(path + ".zero_point", "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return Status::Ok();
  }
  std::string where_;
};

Result<TableEntry> entry_from_json(const Reader& r, const json& j, const std::string& path) {
  TableEntry e;
  EMBER_ASSIGN_OR_RETURN(e.method, r.string(j, "method", path));
  EMBER_TRY(parse_calibration_method(e.method).status());
  EMBER_ASSIGN_OR_RETURN(e.count, r.integer(j, "count", path));
  EMBER_ASSIGN_OR_RETURN(e.range.min, r.number(j, "min", path));
  EMBER_ASSIGN_OR_RETURN(e.range.max, r.number(j, "max", path));
  EMBER_ASSIGN_OR_RETURN(e.range.clip_lo, r.number(j, "clip_lo", path));
  EMBER_ASSIGN_OR_RETURN(e.range.clip_hi, r.number(j, "clip_hi", path));
  if (e.range.min > e.range.max || e.range.clip_lo > 0 || e.range.clip_hi < 0)
    return r.error(path, "needs min <= max and clip_lo <= 0 <= clip_hi");
  EMBER_ASSIGN_OR_RETURN(e.u8, r.params(j, "u8", path, DType::kU8));
  EMBER_ASSIGN_OR_RETURN(e.s8, r.params(j, "s8", path, DType::kI8));
  auto pc_it = j.find("per_channel");
  if (pc_it == j.end()) return e;
  const json& pc = *pc_it;
  const std::string sub = path + ".per_channel";
  EMBER_ASSIGN_OR_RETURN(int64_t axis, r.integer(pc, "axis", sub));
  e.channel_axis = static_cast<int>(axis);
  EMBER_ASSIGN_OR_RETURN(const json* mins, r.field(pc, "min", sub));
  if (!mins->is_array() || mins->empty()) return r.error(sub + ".min", "must be a non-empty array");
  const size_t n = mins->size();
  EMBER_ASSIGN_OR_RETURN(std::vector<double> min, r.numbers(pc, "min", sub, n));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> max, r.numbers(pc, "max", sub, n));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> lo, r.numbers(pc, "clip_lo", sub, n));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> hi, r.numbers(pc, "clip_hi", sub, n));
  for (size_t i = 0; i < n; ++i) e.channels.push_back({min[i], max[i], lo[i], hi[i]});
  EMBER_ASSIGN_OR_RETURN(e.channels_u8, r.channel_params(pc, "u8", sub, DType::kU8, n));
  EMBER_ASSIGN_OR_RETURN(e.channels_s8, r.channel_params(pc, "s8", sub, DType::kI8, n));
  return e;
}

}  // namespace

json table_to_json(const CalibrationTable& t) {
  json j = {{"format", kFormat}, {"version", kVersion}, {"method", t.method},
            {"calibration", {{"source", t.calibration_source}, {"hash", t.calibration_hash}, {"rows", t.calibration_rows}}}};
  if (t.percentile) j["percentile"] = *t.percentile;
  if (!t.model.empty()) j["model"] = t.model;
  j["values"] = json::object();
  for (const auto& [name, entry] : t.values) j["values"][name] = entry_json(entry);
  return j;
}

Result<CalibrationTable> table_from_json(const json& j, const std::string& where) {
  Reader r(where);
  CalibrationTable t;
  EMBER_ASSIGN_OR_RETURN(std::string format, r.string(j, "format", "table"));
  if (format != kFormat) return r.error("table.format", "is '" + format + "', expected '" + kFormat + "'");
  EMBER_ASSIGN_OR_RETURN(int64_t version, r.integer(j, "version", "table"));
  if (version != kVersion) return r.error("table.version", "is " + std::to_string(version) + ", this Ember reads version 1");
  EMBER_ASSIGN_OR_RETURN(t.method, r.string(j, "method", "table"));
  EMBER_TRY(parse_calibration_method(t.method).status().with_context(where));
  if (j.contains("percentile")) {
    EMBER_ASSIGN_OR_RETURN(double p, r.number(j, "percentile", "table"));
    t.percentile = p;
  }
  if (j.contains("model")) {
    EMBER_ASSIGN_OR_RETURN(t.model, r.string(j, "model", "table"));
  }
  EMBER_ASSIGN_OR_RETURN(const json* calib, r.field(j, "calibration", "table"));
  EMBER_ASSIGN_OR_RETURN(t.calibration_source, r.string(*calib, "source", "table.calibration"));
  EMBER_ASSIGN_OR_RETURN(t.calibration_hash, r.string(*calib, "hash", "table.calibration"));
  EMBER_ASSIGN_OR_RETURN(t.calibration_rows, r.integer(*calib, "rows", "table.calibration"));
  EMBER_ASSIGN_OR_RETURN(const json* values, r.field(j, "values", "table"));
  if (!values->is_object()) return r.error("table.values", "must be an object");
  for (const auto& [name, entry] : values->items()) {
    EMBER_ASSIGN_OR_RETURN(TableEntry e, entry_from_json(r, entry, "values['" + name + "']"));
    t.values[name] = std::move(e);
  }
  return t;
}

// Value names are bytes from the model: invalid UTF-8 becomes U+FFFD instead of throwing.
std::string table_to_text(const CalibrationTable& table) {
  return table_to_json(table).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status save_table(const CalibrationTable& table, const std::string& path) {
  return formats::write_string_atomic(path, table_to_text(table));
}

Result<CalibrationTable> load_table(const std::string& path) {
  // A regular file of sane size (never a FIFO to wait on, never /dev/zero to read forever).
  auto text = formats::read_input_file(path, uint64_t{256} << 20);
  if (!text.ok()) return text.status().with_context("calibration table");
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_input(path + " is not valid JSON");
  return table_from_json(j, path);
}

}  // namespace ember::calibration
