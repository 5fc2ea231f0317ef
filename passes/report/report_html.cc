#include "passes/report/report_html.h"

#include <fmt/format.h>

#include "passes/report/report_facts.h"
#include "passes/report/report_plots.h"
#include "passes/report/svg_plot.h"

namespace ember::passes {
namespace {

using svg::escape;

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
#summary { width: 100%; } #summary th { width: 16em; } #summary td { overflow-wrap: anywhere; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.chosen td { font-weight: bold; background: #eef6ff; }
.note { background: #fff8e1; border-left: 4px solid #e69f00; padding: 0.4em 0.8em; margin: 0.4em 0; }
.figure { overflow-x: auto; }
svg.plot { display: block; background: #fff; }
svg .grid { stroke: #e6e6e6; stroke-width: 1; }
svg .frame { fill: none; stroke: #888; stroke-width: 1; }
svg .tick, svg .legend { font-size: 11px; fill: #333; }
svg .title { font-size: 12px; fill: #222; }
svg .chosen { fill: none; stroke: #000; stroke-width: 1.5; }
svg .front { fill: none; stroke: #009e73; stroke-width: 2; }
svg .limit { stroke: #d55e00; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .cand.ok { fill: #0072b2; }
svg .cand.over { fill: #fff; stroke: #d55e00; stroke-width: 2; }
svg .bar { fill: #0072b2; }
)";

std::string cell(const std::string& text, bool numeric = false) {
  return std::string(numeric ? "<td class=\"num\">" : "<td>") + escape(text) + "</td>";
}

std::string optional_number(const std::optional<double>& v) { return v ? svg::number(*v) : "-"; }

std::string summary_table(const ReportFacts& facts) {
  std::string s = "<table id=\"summary\">";
  for (const auto& [label, value] : facts.summary)
    s += "<tr><th>" + escape(label) + "</th>" + cell(value.empty() ? "-" : value) + "</tr>";
  return s + "</table>\n";
}

std::string layer_table(const std::vector<ReportLayer>& layers) {
  std::string s = "<table id=\"layers\"><tr><th>#</th><th>layer</th><th>weight</th><th>op</th><th>parameters</th><th>stage</th>"
                  "<th>action</th><th>bits per weight</th><th>pruned</th><th>predicted loss</th><th>measured loss</th></tr>\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    const ReportLayer& l = layers[i];
    s += "<tr>" + cell(std::to_string(i), true) + cell(l.name) + cell(l.weight) + cell(l.op) + cell(svg::number(l.params, 12), true) +
         cell(l.stage) + cell(l.action) + cell(optional_number(l.bits_per_weight), true) + cell(optional_number(l.pruned_ratio), true) +
         cell(optional_number(l.predicted_loss), true) + cell(optional_number(l.measured_loss), true) + "</tr>\n";
  }
  return s + "</table>\n";
}

std::string candidate_table(const std::vector<ReportCandidate>& candidates) {
  std::string s = "<table id=\"candidates\"><tr><th>candidate</th><th>model MB</th><th>bits per weight</th><th>quality</th>"
                  "<th>within budget</th><th>within target</th><th>Pareto</th></tr>\n";
  for (const auto& c : candidates) {
    s += c.chosen ? "<tr class=\"chosen\">" : "<tr>";
    s += cell(c.name + (c.chosen ? " (chosen)" : "")) + cell(c.model_bytes ? svg::number(*c.model_bytes / 1e6) : "-", true) +
         cell(optional_number(c.bits_per_weight), true) + cell(optional_number(c.quality), true) + cell(c.within_budget ? "yes" : "no") +
         cell(c.within_target ? (*c.within_target ? "yes" : "no") : "-") + cell(c.pareto ? "yes" : "no") + "</tr>\n";
  }
  return s + "</table>\n";
}

std::string stage_table(const std::vector<std::pair<std::string, std::string>>& stages) {
  std::string s = "<table id=\"stages\"><tr><th>stage</th><th>candidates</th></tr>\n";
  for (const auto& [name, candidates] : stages) s += "<tr>" + cell(name) + cell(candidates) + "</tr>\n";
  return s + "</table>\n";
}

// A figure, or a note saying why it is absent.
std::string figure(const std::string& heading, const std::string& svg_text, const std::string& absent) {
  std::string s = "<h2>" + escape(heading) + "</h2>\n";
  if (svg_text.empty()) return s + "<p class=\"note\">" + escape(absent) + "</p>\n";
  return s + "<div class=\"figure\">" + svg_text + "</div>\n";
}

}  // namespace

std::string build_report_html(const nlohmann::json& manifest) {
  const ReportFacts facts = collect_report_facts(manifest);
  const std::string title = "Ember compression report" + (facts.title.empty() ? "" : ": " + facts.title);
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // No network, ever: the page may load nothing (images, fonts, scripts) from anywhere.
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
  h += "<title>" + escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>" + escape(title) + "</h1>\n";
  for (const auto& note : facts.notes) h += "<p class=\"note\">Note: " + escape(note) + ".</p>\n";
  h += "<h2>Target and budget</h2>\n" + summary_table(facts);
  h += figure("Per-layer sensitivity and the action chosen", sensitivity_svg(facts.layers),
              "No per-layer sensitivity in this manifest.");
  h += figure("Size against quality of the candidates", pareto_svg(facts.candidates, facts.metric, facts.quality_limit),
              "No candidate with both a size and a quality in this manifest.");
  h += figure("Bits per weight over parameters", bits_histogram_svg(facts.layers), "No layer with bits per weight in this manifest.");
  h += "<h2>Layers</h2>\n" + layer_table(facts.layers);
  h += "<h2>Candidates</h2>\n" + candidate_table(facts.candidates);
  if (!facts.stages.empty()) h += "<h2>Stages</h2>\n" + stage_table(facts.stages);
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace ember::passes
