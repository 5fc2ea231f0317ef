#include "passes/search/target.h"

#include <cmath>
#include <cstdio>

namespace ember::passes::search {
namespace {

std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

// The layer's cheapest allowed action in bytes, with the per-layer allowance of a quantized
// layer when `overhead`.
int64_t cheapest_bytes(const SearchLayer& layer, bool overhead) {
  int64_t low = INT64_MAX;
  for (const auto& a : layer.allowed)
    low = std::min(low, action_bytes(layer, a) + (overhead && a.kind != LayerAction::Kind::kKeepFloat ? kBytesPerQuantizedLayer : 0));
  return low;
}

}  // namespace

std::string target_kind_name(SearchTarget::Kind kind) {
  switch (kind) {
    case SearchTarget::Kind::kNone: return "none";
    case SearchTarget::Kind::kSizeBytes: return "size_bytes";
    case SearchTarget::Kind::kBitsPerWeight: return "bits_per_weight";
    case SearchTarget::Kind::kEnergyJoules: return "energy_joules";
    case SearchTarget::Kind::kLatencySeconds: return "latency_seconds";
  }
  return "none";
}

Status check_target(const SearchTarget& target) {
  if (target.kind == SearchTarget::Kind::kNone) return Status::Ok();
  if (!std::isfinite(target.value) || target.value <= 0)
    return invalid_input("the " + target_kind_name(target.kind) + " target must be a finite number > 0, got " + number(target.value));
  return Status::Ok();
}

int64_t fixed_bytes(const std::vector<SearchLayer>& layers, int64_t prepared_bytes) {
  int64_t fixed = prepared_bytes;
  for (const auto& l : layers) fixed -= 4 * l.params;
  return std::max<int64_t>(0, fixed);
}

Result<int64_t> layer_capacity(const SearchTarget& target, const std::vector<SearchLayer>& layers, int64_t prepared_bytes) {
  EMBER_TRY(check_target(target));
  int64_t params = 0, cheapest = 0, cheapest_codes = 0, fp32 = 0;
  for (const auto& l : layers) {
    params += l.params;
    cheapest += cheapest_bytes(l, true);
    cheapest_codes += cheapest_bytes(l, false);
    fp32 += 4 * l.params;
  }
  // Energy and latency are limited by resource_capacity; bytes are then free up to FP32.
  if (target.kind == SearchTarget::Kind::kNone || target.kind == SearchTarget::Kind::kEnergyJoules ||
      target.kind == SearchTarget::Kind::kLatencySeconds)
    return fp32;
  if (target.kind == SearchTarget::Kind::kBitsPerWeight) {
    const double low = params > 0 ? 8.0 * double(cheapest_codes) / double(params) : 0;
    const int64_t capacity = static_cast<int64_t>(std::floor(target.value * double(params) / 8.0));
    if (double(capacity) * 8.0 < low * double(params) - 1e-6)
      return invalid_input("the bits-per-weight target " + number(target.value) + " is below the " + number(low) +
                           " bits per weight that the cheapest allowed action of every layer gives");
    return capacity;
  }
  const int64_t fixed = fixed_bytes(layers, prepared_bytes);
  const int64_t capacity = static_cast<int64_t>(std::floor(target.value)) - fixed;
  if (capacity < cheapest)
    return invalid_input("the size target of " + number(target.value) + " bytes is below the smallest model the allowed actions give (" +
                         std::to_string(fixed + cheapest) + " bytes: " + std::to_string(fixed) +
                         " outside the layers, every layer at its cheapest action)");
  return capacity;
}

double resource_units_per_value(SearchTarget::Kind kind) {
  return kind == SearchTarget::Kind::kEnergyJoules ? 1e12 : 1e9;
}

// Far above any model's cost, and far below INT64_MAX, so sums of units cannot overflow.
constexpr double kMaxUnits = 1e17;

int64_t resource_units(SearchTarget::Kind kind, double value) {
  return static_cast<int64_t>(std::min(kMaxUnits, std::ceil(value * resource_units_per_value(kind))));
}

std::string resource_text(SearchTarget::Kind kind, double value) {
  const bool energy = kind == SearchTarget::Kind::kEnergyJoules;
  return number(value * 1e3) + (energy ? " mJ" : " ms");
}

Result<int64_t> resource_capacity(const SearchTarget& target, const std::vector<SearchLayer>& layers, const ResourceCosts& costs) {
  EMBER_TRY(check_target(target));
  const double scale = resource_units_per_value(target.kind);
  int64_t cheapest = 0;
  double cheapest_value = costs.fixed;
  for (size_t i = 0; i < layers.size(); ++i) {
    int64_t low = INT64_MAX;
    double low_value = 0;
    for (double c : costs.cost[i])
      if (resource_units(target.kind, c) < low) low = resource_units(target.kind, c), low_value = c;
    cheapest += low;
    cheapest_value += low_value;
  }
  // The units left after the fixed part, rounded down (a hair under, so rounding never adds).
  const double room = (target.value - costs.fixed) * scale * (1 - 1e-12);
  const int64_t capacity = room > 0 ? static_cast<int64_t>(std::floor(std::min(room, kMaxUnits))) : -1;
  if (capacity < cheapest) {
    const std::string what = target.kind == SearchTarget::Kind::kEnergyJoules ? "energy" : "latency";
    return invalid_input("the " + what + " target of " + resource_text(target.kind, target.value) + " is below the " +
                         resource_text(target.kind, cheapest_value) + " that the cheapest allowed action of every layer predicts (" +
                         resource_text(target.kind, costs.fixed) + " outside the layers)");
  }
  return capacity;
}

}  // namespace ember::passes::search
