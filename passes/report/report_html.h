// report.html: one self-contained page (inline CSS and SVG; no scripts, fonts or network) that
// shows a compression run from its manifest:
//   - the target and budget summary (what was asked, what was achieved, the share used);
//   - per-layer sensitivity (predicted loss per action, log scale) and the action chosen;
//   - the size-vs-quality Pareto front of the candidates, the chosen one marked;
//   - a histogram of bits per weight over parameters;
//   - the per-layer, candidate and stage tables.
// It reads the manifest's `search` section (written by the progressive search):
//   "search": {"target": {"kind","value","achieved"},
//              "budget": {"metric","allowed","reference","limit","achieved","used_share"},
//              "layers": [{"name","weight","op","params","stage","action","bits_per_weight",
//                          "pruned_ratio","sensitivity": {action: loss},"predicted_loss","measured_loss"}],
//              "candidates": [{"name","model_bytes","bits_per_weight","quality","within_budget","chosen","pareto"}],
//              "stages": [{"name","candidates"}]}
// When the section or a key is absent (manifests of the fixed-ladder compress), the page says so
// and falls back to the manifest's `quality` candidates and `tensors`. Every string from the
// manifest is escaped (node names are hostile input). Deterministic: the same manifest gives
// byte-identical HTML. Never throws: values of the wrong type count as absent.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace ember::passes {

std::string build_report_html(const nlohmann::json& manifest);

}  // namespace ember::passes
