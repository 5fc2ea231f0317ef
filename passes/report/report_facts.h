// What report.html shows, taken from a manifest (report_html.h describes the keys): the
// summary rows, the layers, the candidates and the stages, with a note for each thing the
// manifest lacks. Values of the wrong type count as absent; nothing here throws.
#pragma once
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "passes/report/report_plots.h"

namespace ember::passes {

struct ReportFacts {
  std::string title;                                         // the source model's file name
  std::string metric;                                        // the quality metric's name
  std::optional<double> quality_limit;                       // the worst quality the budget allows
  std::vector<std::pair<std::string, std::string>> summary;  // label -> value, unescaped
  std::vector<ReportLayer> layers;
  std::vector<ReportCandidate> candidates;
  std::vector<std::pair<std::string, std::string>> stages;   // stage -> its candidates
  bool has_search = false;
  std::set<std::string> notes;                               // what is missing, and where it came from instead
};

ReportFacts collect_report_facts(const nlohmann::json& manifest);

}  // namespace ember::passes
