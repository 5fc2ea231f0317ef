#include "passes/report/svg_plot.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace ember::passes::svg {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\0': out += "&#xFFFD;"; break;  // a NUL is not valid in HTML text
      default: out += c;
    }
  }
  return out;
}

std::string number(double value, int digits) {
  if (!std::isfinite(value)) return "-";
  if (value == 0) return "0";
  // Whole numbers (bytes, parameters) in full up to 15 digits: 5600000, not 5.6e+06.
  if (value == std::trunc(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  return fmt::format("{:.{}g}", value, digits);
}

std::string_view colour(size_t index) {
  // Okabe-Ito's colour-blind-safe set, then more distinct ones (a search tries up to ~16 actions).
  static constexpr std::string_view kPalette[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
                                                  "#f0e442", "#000000", "#999999", "#8c564b", "#7b3294", "#1b7837",
                                                  "#c51b7d", "#4d4d4d", "#b8860b", "#2166ac"};
  return kPalette[index % std::size(kPalette)];
}

double Axis::operator()(double v) const {
  double t = 0;
  if (log) {
    const double l = std::log10(lo), h = std::log10(hi);
    t = h > l ? (std::log10(std::max(v, lo)) - l) / (h - l) : 0.5;
  } else {
    t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  }
  if (!std::isfinite(t)) t = 0.5;  // a range that overflowed: the middle, never "nan" in the SVG
  return from + std::clamp(t, 0.0, 1.0) * (to - from);
}

Axis linear_axis(const std::vector<double>& values, double from, double to) {
  Axis a{0, 1, from, to, false};
  if (values.empty()) return a;
  double lo = *std::min_element(values.begin(), values.end());
  double hi = *std::max_element(values.begin(), values.end());
  // One value (or all equal): a span of 20% around it, so a size never gets a negative axis.
  const double pad = hi > lo ? 0.05 * (hi - lo) : lo != 0 ? std::fabs(lo) * 0.1 : 1.0;
  a.lo = lo - pad;
  a.hi = hi + pad;
  return a;
}

Axis log_axis(const std::vector<double>& positive_values, double from, double to) {
  Axis a{1e-6, 1, from, to, true};
  if (positive_values.empty()) return a;
  // Within 1e-300..1e300, so the decades stay finite and few (denormals would give 10^-324 = 0).
  const double lo = std::clamp(*std::min_element(positive_values.begin(), positive_values.end()), 1e-300, 1e300);
  const double hi = std::clamp(*std::max_element(positive_values.begin(), positive_values.end()), 1e-300, 1e300);
  a.lo = std::pow(10.0, std::floor(std::log10(lo)));
  a.hi = std::pow(10.0, std::ceil(std::log10(hi)));
  if (a.hi <= a.lo) a.hi = a.lo * 10;
  return a;
}

std::vector<double> ticks(const Axis& axis, int count) {
  std::vector<double> out;
  if (axis.log) {
    const int first = static_cast<int>(std::lround(std::log10(axis.lo)));
    const int last = static_cast<int>(std::lround(std::log10(axis.hi)));
    const int step = std::max(1, (last - first + 7) / 8);  // at most about 8 decade labels
    for (int e = first; e <= last; e += step) out.push_back(std::pow(10.0, e));
    return out;
  }
  const double span = axis.hi - axis.lo;
  if (!(span > 0) || !std::isfinite(span)) return {axis.lo};
  const double raw = span / std::max(count, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  for (double v = std::ceil(axis.lo / step) * step; v <= axis.hi + step * 1e-9 && out.size() < 50; v += step)
    out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return out;
}

std::string frame_svg(const Frame& f, const Axis& x, const Axis& y, bool label_x) {
  std::string s;
  const double right = f.left + f.width, bottom = f.top + f.height;
  for (double t : ticks(y)) {
    const double py = y(t);
    s += fmt::format(R"(<line class="grid" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)", f.left, py, right, py);
    s += fmt::format(R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)", f.left - 6, py + 4,
                     escape(number(t, 3)));
  }
  if (label_x)
    for (double t : ticks(x)) {
      const double px = x(t);
      s += fmt::format(R"(<line class="grid" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)", px, f.top, px, bottom);
      s += fmt::format(R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", px, bottom + 16,
                       escape(number(t, 3)));
    }
  s += fmt::format(R"(<rect class="frame" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"/>)", f.left, f.top, f.width, f.height);
  s += fmt::format(R"(<text class="title" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", f.left + f.width / 2, bottom + 40,
                   escape(f.x_title));
  s += fmt::format(R"svg(<text class="title" transform="translate(16 {:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg",
                   f.top + f.height / 2, escape(f.y_title));
  return s;
}

}  // namespace ember::passes::svg
