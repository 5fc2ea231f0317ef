#include "passes/report/report_plots.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "passes/report/svg_plot.h"

namespace ember::passes {
namespace {

using svg::escape;
using svg::number;

std::string open_svg(const std::string& id, double width, double height, const std::string& label) {
  return fmt::format(R"(<svg id="{}" class="plot" viewBox="0 0 {:.0f} {:.0f}" width="{:.0f}" height="{:.0f}" role="img" aria-label="{}">)",
                     id, width, height, width, height, escape(label));
}

// One legend entry per row item: a swatch and its label, four to a row.
std::string legend(const std::vector<std::pair<std::string, std::string>>& entries, double left, double top) {
  std::string s;
  for (size_t i = 0; i < entries.size(); ++i) {
    const double x = left + static_cast<double>(i % 4) * 170, y = top + static_cast<double>(i / 4) * 18;
    s += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="10" height="10" fill="{}"/>)", x, y, entries[i].second);
    // Long names are cut to fit the column; the full name is the tooltip.
    const std::string& label = entries[i].first;
    const std::string shown = label.size() > 24 ? label.substr(0, 22) + "..." : label;
    s += fmt::format(R"(<text class="legend" x="{:.1f}" y="{:.1f}">{}<title>{}</title></text>)", x + 14, y + 9, escape(shown),
                     escape(label));
  }
  return s;
}

double legend_height(size_t entries) { return static_cast<double>((entries + 3) / 4) * 18; }

// Colours per action name, in name order (deterministic), for the points and the strip.
std::map<std::string, std::string> action_colours(const std::vector<ReportLayer>& layers) {
  std::map<std::string, std::string> colours;
  for (const auto& l : layers) {
    for (const auto& [action, unused] : l.sensitivity) colours[action];
    if (!l.action.empty()) colours[l.action];
  }
  size_t i = 0;
  for (auto& [name, colour] : colours) colour = std::string(svg::colour(i++));
  return colours;
}

std::string sensitivity_points(const std::vector<ReportLayer>& layers, const svg::Frame& f, double step, const svg::Axis& y,
                               const std::map<std::string, std::string>& colours) {
  std::string s;
  for (size_t i = 0; i < layers.size(); ++i) {
    const ReportLayer& l = layers[i];
    const double x = f.left + (static_cast<double>(i) + 0.5) * step;
    for (const auto& [action, loss] : l.sensitivity) {
      const double py = y(loss > 0 ? loss : y.lo);
      const std::string tip = fmt::format("#{} {}: {} predicted loss {}{}", i, l.name, action, number(loss),
                                          loss > 0 ? "" : " (not positive: drawn at the axis floor)");
      s += fmt::format(R"(<circle class="pt" cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{}</title></circle>)", x, py,
                       colours.at(action), escape(tip));
      if (action == l.action)
        s += fmt::format(R"(<circle class="chosen" cx="{:.1f}" cy="{:.1f}" r="6"><title>{}</title></circle>)", x, py,
                         escape("#" + std::to_string(i) + " " + l.name + ": chosen " + action));
    }
    const std::string fill = l.action.empty() ? "#dddddd" : colours.at(l.action);
    s += fmt::format(R"(<rect class="strip" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="10" fill="{}"><title>{}</title></rect>)",
                     x - step / 2, f.top + f.height + 4, std::max(step - 1, 1.0), fill,
                     escape("#" + std::to_string(i) + " " + l.name + ": chosen " + (l.action.empty() ? "(none)" : l.action)));
  }
  return s;
}

}  // namespace

std::string sensitivity_svg(const std::vector<ReportLayer>& layers) {
  std::vector<double> positive;
  bool any = false;
  for (const auto& l : layers)
    for (const auto& [action, loss] : l.sensitivity) {
      any = true;
      if (loss > 0 && std::isfinite(loss)) positive.push_back(loss);
    }
  if (!any) return "";
  const auto colours = action_colours(layers);
  svg::Frame f;
  f.width = std::clamp(static_cast<double>(layers.size()) * 14.0, 640.0, 4000.0);
  f.x_title = "layer (numbered as in the table below; the strip shows the action chosen)";
  f.y_title = "predicted loss increase (log)";
  const double step = f.width / static_cast<double>(layers.size());
  const svg::Axis x{0, 1, f.left, f.left + f.width, false};
  const svg::Axis y = svg::log_axis(positive, f.top + f.height, f.top);
  std::vector<std::pair<std::string, std::string>> entries(colours.begin(), colours.end());
  const double height = f.top + f.height + 68 + legend_height(entries.size());
  std::string s = open_svg("sensitivity", f.left + f.width + 20, height, "Per-layer sensitivity");
  s += svg::frame_svg(f, x, y, /*label_x=*/false);
  s += sensitivity_points(layers, f, step, y, colours);
  const size_t every = std::max<size_t>(1, (layers.size() + 19) / 20);
  for (size_t i = 0; i < layers.size(); i += every)
    s += fmt::format(R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)",
                     f.left + (static_cast<double>(i) + 0.5) * step, f.top + f.height + 28, i);
  s += legend(entries, f.left, f.top + f.height + 54);
  return s + "</svg>";
}

void mark_pareto_front(std::vector<ReportCandidate>& candidates, bool higher_is_better) {
  for (auto& c : candidates) {
    if (!c.model_bytes || !c.quality) continue;
    const double q = higher_is_better ? *c.quality : -*c.quality;
    bool beaten = false;
    for (const auto& o : candidates) {
      if (&o == &c || !o.model_bytes || !o.quality) continue;
      const double oq = higher_is_better ? *o.quality : -*o.quality;
      if (*o.model_bytes <= *c.model_bytes && oq >= q && (*o.model_bytes < *c.model_bytes || oq > q)) beaten = true;
    }
    c.pareto = !beaten;
  }
}

std::string pareto_svg(const std::vector<ReportCandidate>& candidates, const std::string& metric,
                       std::optional<double> quality_limit) {
  std::vector<const ReportCandidate*> shown;
  std::vector<double> xs, ys;
  for (const auto& c : candidates)
    if (c.model_bytes && c.quality) {
      shown.push_back(&c);
      xs.push_back(*c.model_bytes / 1e6);
      ys.push_back(*c.quality);
    }
  if (shown.empty()) return "";
  if (quality_limit) ys.push_back(*quality_limit);
  svg::Frame f;
  f.x_title = "model size (MB)";
  f.y_title = metric.empty() ? "quality" : metric;
  const svg::Axis x = svg::linear_axis(xs, f.left, f.left + f.width);
  const svg::Axis y = svg::linear_axis(ys, f.top + f.height, f.top);
  std::string s = open_svg("pareto", f.left + f.width + 20, f.top + f.height + 76, "Size against quality of the candidates");
  s += svg::frame_svg(f, x, y, /*label_x=*/true);
  if (quality_limit) {
    s += fmt::format(R"(<line class="limit" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)", f.left, y(*quality_limit),
                     f.left + f.width, y(*quality_limit));
    s += fmt::format(R"(<text class="legend" x="{:.1f}" y="{:.1f}" text-anchor="end">budget limit {}</text>)",
                     f.left + f.width - 4, y(*quality_limit) - 4, escape(number(*quality_limit)));
  }
  std::vector<const ReportCandidate*> front;
  for (const auto* c : shown)
    if (c->pareto) front.push_back(c);
  std::stable_sort(front.begin(), front.end(), [](auto* a, auto* b) { return *a->model_bytes < *b->model_bytes; });
  std::string path;
  for (const auto* c : front) path += fmt::format("{:.1f},{:.1f} ", x(*c->model_bytes / 1e6), y(*c->quality));
  if (front.size() > 1) s += "<polyline class=\"front\" points=\"" + path + "\"/>";
  for (const auto* c : shown) {
    const double px = x(*c->model_bytes / 1e6), py = y(*c->quality);
    const std::string tip = fmt::format("{}: {} MB, {} {}{}{}", c->name, number(*c->model_bytes / 1e6), f.y_title, number(*c->quality),
                                        c->within_budget ? ", within budget" : ", over budget", c->pareto ? ", on the Pareto front" : "");
    s += fmt::format(R"(<circle class="{}" cx="{:.1f}" cy="{:.1f}" r="5"><title>{}</title></circle>)",
                     c->within_budget ? "cand ok" : "cand over", px, py, escape(tip));
    if (c->chosen) {
      s += fmt::format(R"(<circle class="chosen" cx="{:.1f}" cy="{:.1f}" r="10"/>)", px, py);
      s += fmt::format(R"(<text class="legend" x="{:.1f}" y="{:.1f}">chosen: {}</text>)", px + 12, py - 8, escape(c->name));
    }
  }
  s += legend({{"within budget (filled)", "#0072b2"}, {"over budget (hollow)", "#d55e00"}, {"Pareto front (line)", "#009e73"}},
              f.left, f.top + f.height + 56);
  return s + "</svg>";
}

std::string bits_histogram_svg(const std::vector<ReportLayer>& layers) {
  std::map<int64_t, double> params_by_centibits;  // bpw rounded to 0.01 -> parameters
  double total = 0;
  for (const auto& l : layers)
    if (l.bits_per_weight && l.params > 0 && *l.bits_per_weight >= 0 && *l.bits_per_weight < 1e4) {
      params_by_centibits[std::llround(*l.bits_per_weight * 100)] += l.params;
      total += l.params;
    }
  if (params_by_centibits.empty()) return "";
  double top_share = 0;
  for (const auto& [bits, params] : params_by_centibits) top_share = std::max(top_share, params / total);
  svg::Frame f;
  f.x_title = "bits per weight";
  f.y_title = "share of parameters";
  const svg::Axis x{0, 1, f.left, f.left + f.width, false};
  const svg::Axis y{0, std::min(1.0, top_share * 1.15), f.top + f.height, f.top, false};
  std::string s = open_svg("bits", f.left + f.width + 20, f.top + f.height + 50, "Histogram of bits per weight over parameters");
  s += svg::frame_svg(f, x, y, /*label_x=*/false);
  const double slot = f.width / static_cast<double>(params_by_centibits.size());
  const double bar = std::min(60.0, slot * 0.7);
  size_t i = 0;
  for (const auto& [centibits, params] : params_by_centibits) {
    const double share = params / total, cx = f.left + (static_cast<double>(i++) + 0.5) * slot;
    const std::string bits = number(static_cast<double>(centibits) / 100.0);
    s += fmt::format(R"(<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"><title>{}</title></rect>)", cx - bar / 2,
                     y(share), bar, y(0) - y(share),
                     escape(fmt::format("{} bits per weight: {} parameters ({:.1f}%)", bits, number(params, 9), share * 100)));
    s += fmt::format(R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="middle">{:.1f}%</text>)", cx, y(share) - 4, share * 100);
    s += fmt::format(R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", cx, f.top + f.height + 16, bits);
  }
  return s + "</svg>";
}

}  // namespace ember::passes
