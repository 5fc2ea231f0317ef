// Calibration table: per value name, the method, the observed range, the clip range, and
// the affine 8-bit parameters (u8 and s8) that static quantization uses, optionally per
// channel. Written as JSON (schemas/calibration_table.schema.json) with sorted keys and
// shortest round-trip numbers, so the same data always gives the same bytes.
//
// Affine parameters for a clip range [lo, hi] (widened to contain 0):
//   scale = (hi - lo) / 255;   u8: zero_point = round(-lo / scale)        in [0, 255]
//                              s8: zero_point = round(-128 - lo / scale)  in [-128, 127]
// An all-zero range gets scale 1 (any scale is exact for zeros); scales are kept within the
// normal float range so a huge or tiny range never gives 0 or inf.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "calibration/observer.h"
#include "ir/dtype.h"
#include "ir/status.h"

namespace ember::calibration {

struct AffineParams {
  float scale = 1;
  int32_t zero_point = 0;
};
// `type` is DType::kU8 or DType::kI8.
AffineParams affine_params(double lo, double hi, DType type);

struct TableEntry {
  std::string method;
  int64_t count = 0;  // values observed
  RangeStats range;
  AffineParams u8, s8;
  // Per channel (empty when per tensor).
  std::optional<int> channel_axis;
  std::vector<RangeStats> channels;
  std::vector<AffineParams> channels_u8, channels_s8;

  const AffineParams& params(DType type) const { return type == DType::kI8 ? s8 : u8; }
};

TableEntry make_table_entry(const ObserverResult& result, CalibrationMethod method);

struct CalibrationTable {
  std::string method;
  std::optional<double> percentile;  // with the percentile method
  std::string model;                 // the model's path, informative
  std::string calibration_source;
  std::string calibration_hash;
  int64_t calibration_rows = 0;
  std::map<std::string, TableEntry> values;

  const TableEntry* find(const std::string& value_name) const {
    auto it = values.find(value_name);
    return it == values.end() ? nullptr : &it->second;
  }
};

nlohmann::json table_to_json(const CalibrationTable& table);
// Checks every key the schema requires; messages name `where` and the offending value.
Result<CalibrationTable> table_from_json(const nlohmann::json& json, const std::string& where);
std::string table_to_text(const CalibrationTable& table);  // indented JSON with a final newline
Status save_table(const CalibrationTable& table, const std::string& path);
Result<CalibrationTable> load_table(const std::string& path);

}  // namespace ember::calibration
