#include "passes/report/report_facts.h"

#include <cmath>

#include "passes/report/svg_plot.h"

namespace ember::passes {
namespace {

using json = nlohmann::json;

const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<double> number_at(const json& j, const char* key) {
  const json* f = field(j, key);
  if (!f || !f->is_number()) return std::nullopt;
  const double v = f->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::string text_at(const json& j, const char* key) {
  const json* f = field(j, key);
  if (f && f->is_string()) return f->get<std::string>();
  if (f && f->is_number()) return svg::number(f->get<double>(), 6);
  if (f && f->is_boolean()) return f->get<bool>() ? "yes" : "no";
  return "";
}

bool flag_at(const json& j, const char* key) {
  const json* f = field(j, key);
  return f && f->is_boolean() && f->get<bool>();
}

bool higher_is_better(const std::string& metric) {
  return metric == "accuracy" || metric == "top1" || metric == "cosine" || metric == "sqnr";
}

// Notes a key that a section's items lack (once per key).
void require(const json& item, const char* key, const std::string& section, ReportFacts& facts) {
  if (!field(item, key)) facts.notes.insert(section + " lacks '" + key + "'");
}

ReportLayer search_layer(const json& l, ReportFacts& facts) {
  for (const char* key : {"name", "op", "params", "action", "bits_per_weight", "sensitivity", "predicted_loss", "measured_loss"})
    require(l, key, "search.layers", facts);
  ReportLayer r;
  r.name = text_at(l, "name");
  r.weight = text_at(l, "weight");
  r.op = text_at(l, "op");
  r.stage = text_at(l, "stage");
  r.action = text_at(l, "action");
  r.params = number_at(l, "params").value_or(0);
  r.bits_per_weight = number_at(l, "bits_per_weight");
  r.pruned_ratio = number_at(l, "pruned_ratio");
  r.predicted_loss = number_at(l, "predicted_loss");
  r.measured_loss = number_at(l, "measured_loss");
  if (const json* s = field(l, "sensitivity"); s && s->is_object())
    for (const auto& [action, loss] : s->items())
      if (loss.is_number() && std::isfinite(loss.get<double>())) r.sensitivity[action] = loss.get<double>();
  return r;
}

ReportCandidate search_candidate(const json& c, ReportFacts& facts) {
  for (const char* key : {"name", "model_bytes", "quality", "within_budget", "chosen", "pareto"})
    require(c, key, "search.candidates", facts);
  ReportCandidate r;
  r.name = text_at(c, "name");
  r.model_bytes = number_at(c, "model_bytes");
  r.bits_per_weight = number_at(c, "bits_per_weight");
  r.quality = number_at(c, "quality");
  r.within_budget = flag_at(c, "within_budget");
  r.chosen = flag_at(c, "chosen");
  r.pareto = flag_at(c, "pareto");
  if (const json* t = field(c, "within_target"); t && t->is_boolean()) r.within_target = t->get<bool>();
  return r;
}

// The fixed-ladder manifest's tensors: one layer per quantized weight, bits from its bytes.
void layers_from_tensors(const json& manifest, ReportFacts& facts) {
  const json* tensors = field(manifest, "tensors");
  if (!tensors || !tensors->is_array()) return;
  for (const json& t : *tensors) {
    ReportLayer r;
    r.name = text_at(t, "layer");
    r.weight = text_at(t, "weight");
    r.op = text_at(t, "op");
    r.action = text_at(t, "scheme");
    r.params = number_at(t, "parameters").value_or(0);
    if (auto bytes = number_at(t, "bytes"); bytes && r.params > 0) r.bits_per_weight = *bytes * 8 / r.params;
    facts.layers.push_back(std::move(r));
  }
}

void candidates_from_quality(const json& manifest, ReportFacts& facts) {
  const json* quality = field(manifest, "quality");
  const json* list = quality ? field(*quality, "candidates") : nullptr;
  if (!list || !list->is_array()) return;
  const std::string chosen = text_at(manifest, "scheme");
  for (const json& c : *list) {
    ReportCandidate r;
    r.name = text_at(c, "scheme");
    r.model_bytes = number_at(c, "model_bytes");
    r.quality = number_at(c, "quality");
    r.within_budget = flag_at(c, "within_budget");
    r.chosen = !chosen.empty() && r.name == chosen;
    facts.candidates.push_back(std::move(r));
  }
  mark_pareto_front(facts.candidates, higher_is_better(facts.metric));
}

void summarize_manifest(const json& m, ReportFacts& facts) {
  auto add = [&](const std::string& label, const std::string& value) {
    if (!value.empty()) facts.summary.emplace_back(label, value);
  };
  const json empty = json::object();
  const json* source = field(m, "source_model");
  const json* model = field(m, "model");
  const json* quality = field(m, "quality");
  const json& q = quality ? *quality : empty;
  facts.title = source ? text_at(*source, "file") : "";
  facts.metric = text_at(q, "metric");
  facts.quality_limit = number_at(q, "limit");
  add("source model", facts.title);
  if (source) add("source bytes", text_at(*source, "bytes"));
  if (model) add("compressed model", text_at(*model, "file") + " (" + text_at(*model, "bytes") + " bytes)");
  add("scheme", text_at(m, "scheme"));
  add("pipeline (replay with ember opt --passes)", text_at(m, "pipeline"));
  add("quality metric", facts.metric);
  add("FP32 quality", text_at(q, "fp32"));
  add("compressed quality", text_at(q, "compressed"));
  add("budget allowed", text_at(q, "budget"));
  add("quality limit", text_at(q, "limit"));
  add("budget met", text_at(q, "budget_met"));
}

void summarize_search(const json& search, ReportFacts& facts) {
  if (const json* t = field(search, "target"); t && t->is_object()) {
    for (const char* key : {"kind", "value", "achieved"}) require(*t, key, "search.target", facts);
    const std::string kind = text_at(*t, "kind");
    facts.summary.emplace_back("search target", kind == "none" ? "none (the smallest model within the budget)"
                                                               : kind + " " + text_at(*t, "value"));
    facts.summary.emplace_back("search target: achieved", text_at(*t, "achieved"));
  } else {
    facts.notes.insert("search lacks 'target'");
  }
  if (const json* b = field(search, "budget"); b && b->is_object()) {
    for (const char* key : {"metric", "allowed", "reference", "limit", "achieved", "used_share"}) {
      require(*b, key, "search.budget", facts);
      facts.summary.emplace_back(std::string("search budget: ") + key, text_at(*b, key));
    }
    if (auto metric = text_at(*b, "metric"); !metric.empty()) facts.metric = metric;
    if (auto limit = number_at(*b, "limit")) facts.quality_limit = limit;
  } else {
    facts.notes.insert("search lacks 'budget'");
  }
  // How predicted losses were scaled to the metric (optional).
  if (const json* scale = field(search, "cost_scale"); scale && scale->is_object())
    for (const auto& [key, value] : scale->items())
      if (value.is_number()) facts.summary.emplace_back("search cost scale: " + key, svg::number(value.get<double>(), 6));
}

}  // namespace

ReportFacts collect_report_facts(const nlohmann::json& manifest) {
  ReportFacts facts;
  summarize_manifest(manifest, facts);
  const json* search = field(manifest, "search");
  facts.has_search = search && search->is_object();
  if (!facts.has_search) {
    facts.notes.insert("this manifest has no 'search' section (it was written by the fixed-ladder compress): "
                       "no per-layer sensitivity; the candidates come from its quality section, the bits from its tensors");
    layers_from_tensors(manifest, facts);
    candidates_from_quality(manifest, facts);
    return facts;
  }
  summarize_search(*search, facts);
  if (const json* layers = field(*search, "layers"); layers && layers->is_array()) {
    for (const json& l : *layers) facts.layers.push_back(search_layer(l, facts));
  } else {
    facts.notes.insert("search lacks 'layers': the layers come from the manifest's tensors");
    layers_from_tensors(manifest, facts);
  }
  if (const json* list = field(*search, "candidates"); list && list->is_array()) {
    bool pareto_given = true;
    for (const json& c : *list) {
      facts.candidates.push_back(search_candidate(c, facts));
      pareto_given = pareto_given && field(c, "pareto");
    }
    if (!pareto_given) mark_pareto_front(facts.candidates, higher_is_better(facts.metric));
  } else {
    facts.notes.insert("search lacks 'candidates': the candidates come from the manifest's quality section");
    candidates_from_quality(manifest, facts);
  }
  if (const json* stages = field(*search, "stages"); stages && stages->is_array()) {
    for (const json& s : *stages) {
      const json* c = field(s, "candidates");
      std::string what = text_at(s, "candidates");
      if (c && c->is_array()) {
        what.clear();
        for (const json& name : *c) what += (what.empty() ? "" : ", ") + (name.is_string() ? name.get<std::string>() : name.is_number() ? svg::number(name.get<double>(), 6) : std::string("?"));
      }
      facts.stages.emplace_back(text_at(s, "name"), what);
    }
  } else {
    facts.notes.insert("search lacks 'stages'");
  }
  return facts;
}

}  // namespace ember::passes
