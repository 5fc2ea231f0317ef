// Small pieces for report.html's inline SVG plots: text escaping (every string that comes from
// a model is hostile: a node named "</svg><script>" must stay text), deterministic number
// formatting, linear and log-10 axes, and a fixed colour palette. No scripts, no fonts, no
// network: the page renders the same in any browser, offline.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ember::passes::svg {

// Escapes & < > " ' for HTML text and attribute values (and SVG inside HTML).
std::string escape(std::string_view text);

// A number as plots and tables show it: whole numbers in full, others with up to `digits`
// significant digits, "-" when not finite.
std::string number(double value, int digits = 4);

// The i-th colour of a fixed palette of distinguishable colours (cycles after 16).
std::string_view colour(size_t index);

// Maps a data interval onto a pixel interval; log10 when `log` (data must be > 0).
struct Axis {
  double lo = 0, hi = 1;      // data range
  double from = 0, to = 1;    // pixel range (from = lo)
  bool log = false;
  double operator()(double v) const;
};

// A data range padded for plotting: [min, max] widened by 5% (or to a unit when flat).
Axis linear_axis(const std::vector<double>& values, double from, double to);
// Whole decades around the positive values' range.
Axis log_axis(const std::vector<double>& positive_values, double from, double to);

// Tick values of an axis: about `count` round numbers (linear) or the decades (log).
std::vector<double> ticks(const Axis& axis, int count = 5);

// The plot frame: a border, horizontal grid lines with labels at the y ticks, x ticks with
// labels (empty when the caller labels x itself), and the axis titles.
struct Frame {
  double left = 70, top = 20, width = 640, height = 260;  // the plotting area, in px
  std::string x_title, y_title;
};
std::string frame_svg(const Frame& frame, const Axis& x, const Axis& y, bool label_x);

}  // namespace ember::passes::svg
