// report.html (passes/report/report_html.h): all plots from a manifest with a search section,
// hostile names escaped, deterministic output, and a page that says what is missing when the
// section (or a key of it) is absent. The browser check is tests/e2e/report_html.sh.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "passes/report/report_facts.h"
#include "passes/report/report_html.h"
#include "passes/report/svg_plot.h"

namespace ember::passes {
namespace {

using json = nlohmann::json;

json search_manifest() {
  std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/tests/report/search_manifest.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST_CASE("report.html: every plot and table from a manifest with a search section") {
  const json m = search_manifest();
  const std::string html = build_report_html(m);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(count(html, "<svg ") == 3);
  CHECK(count(html, "</svg>") == 3);
  for (const char* id : {"id=\"sensitivity\"", "id=\"pareto\"", "id=\"bits\"", "id=\"summary\"", "id=\"layers\"",
                         "id=\"candidates\"", "id=\"stages\""})
    CHECK_MESSAGE(html.find(id) != std::string::npos, id);
  // 6 layers x 4 actions (one layer has a fifth), each chosen action ringed once, one strip cell per layer.
  CHECK(count(html, "class=\"pt\"") == 25);
  CHECK(count(html, "class=\"strip\"") == 6);
  CHECK(count(html, "class=\"cand ok\"") == 4);
  CHECK(count(html, "class=\"cand over\"") == 1);
  CHECK(count(html, "class=\"bar\"") == 3);  // 4.125, 4.5 and 8.25 bits per weight
  CHECK(html.find("class=\"front\"") != std::string::npos);
  CHECK(html.find("class=\"limit\"") != std::string::npos);
  CHECK(html.find("used_share") != std::string::npos);
  CHECK(html.find("0.775") != std::string::npos);
  CHECK(html.find("not positive: drawn at the axis floor") != std::string::npos);
  CHECK(html.find("search cost scale: gptq_factor") != std::string::npos);
  CHECK(html.find("<th>within target</th>") != std::string::npos);
  CHECK(html.find("class=\"note\"") == std::string::npos);  // nothing missing
}

TEST_CASE("report.html: names from the model are escaped, and nothing is loaded from anywhere") {
  const std::string html = build_report_html(search_manifest());
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
  CHECK(html.find("&lt;/svg&gt;&lt;script&gt;alert(&#39;layer&#39;)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("lm_head &amp; &quot;friends&quot; &lt;b&gt;") != std::string::npos);
  CHECK(html.find("kjv-gpt2-tiny &lt;evil&gt;.onnx") != std::string::npos);
  for (const char* url : {"http:", "https:", "url(", "@import", "@font-face"})  // nothing to fetch: no fonts, scripts or images
    CHECK_MESSAGE(html.find(url) == std::string::npos, url);
  CHECK(html.find("default-src 'none'") != std::string::npos);  // and the page forbids fetching anyway
  CHECK(svg::escape(std::string("a\0b", 3)) == "a&#xFFFD;b");
}

TEST_CASE("report.html: deterministic") {
  const json m = search_manifest();
  CHECK(build_report_html(m) == build_report_html(json::parse(m.dump())));
}

TEST_CASE("report.html: a manifest without a search section falls back and says so") {
  json m = search_manifest();
  m.erase("search");
  m["scheme"] = "w8";
  m["quality"]["candidates"] = {{{"scheme", "int4-gptq"}, {"quality", 1.4}, {"model_bytes", 900000}, {"within_budget", false}},
                                {{"scheme", "w8"}, {"quality", 1.295}, {"model_bytes", 1600000}, {"within_budget", true}}};
  m["tensors"] = {{{"layer", "fc<1>"}, {"weight", "w1"}, {"op", "Gemm"}, {"scheme", "int8"}, {"parameters", 1000}, {"bytes", 1004}},
                  {{"layer", "fc2"}, {"weight", "w2"}, {"op", "Gemm"}, {"scheme", "fp32"}, {"parameters", 100}, {"bytes", 400}}};
  const std::string html = build_report_html(m);
  CHECK(html.find("no &#39;search&#39; section") != std::string::npos);
  CHECK(html.find("No per-layer sensitivity") != std::string::npos);
  CHECK(count(html, "<svg ") == 2);  // Pareto from the quality candidates, bits from the tensors
  CHECK(count(html, "class=\"bar\"") == 2);
  CHECK(html.find("chosen: w8") != std::string::npos);
  CHECK(html.find("fc&lt;1&gt;") != std::string::npos);
  const ReportFacts facts = collect_report_facts(m);
  REQUIRE(facts.candidates.size() == 2);
  CHECK(facts.candidates[0].pareto);  // smaller, though worse
  CHECK(facts.candidates[1].pareto);
  CHECK(facts.layers[0].bits_per_weight.value() == doctest::Approx(8.032));
}

TEST_CASE("report.html: absent keys and wrong types are notes, never a crash") {
  json m = search_manifest();
  m["search"].erase("stages");
  m["search"]["layers"][0].erase("sensitivity");
  m["search"]["layers"][1]["params"] = "many";
  m["search"]["candidates"][0].erase("pareto");
  m["search"]["budget"] = 3;
  const std::string html = build_report_html(m);
  CHECK(html.find("search.layers lacks &#39;sensitivity&#39;") != std::string::npos);
  CHECK(html.find("search lacks &#39;stages&#39;") != std::string::npos);
  CHECK(html.find("search lacks &#39;budget&#39;") != std::string::npos);
  CHECK(html.find("search.candidates lacks &#39;pareto&#39;") != std::string::npos);
  CHECK(count(html, "<svg ") == 3);
  for (const json& odd : {json(nullptr), json(42), json::array(), json::object(), json{{"search", "x"}, {"tensors", 1}}})
    CHECK(build_report_html(odd).find("</html>") != std::string::npos);
}

TEST_CASE("report.html: the Pareto front") {
  std::vector<ReportCandidate> c(3);
  c[0].model_bytes = 1, c[0].quality = 0.9;
  c[1].model_bytes = 2, c[1].quality = 0.8;  // larger and worse: dominated
  c[2].model_bytes = 3, c[2].quality = 0.95;
  mark_pareto_front(c, /*higher_is_better=*/true);
  CHECK(c[0].pareto);
  CHECK_FALSE(c[1].pareto);
  CHECK(c[2].pareto);
  mark_pareto_front(c, /*higher_is_better=*/false);  // lower is better: only the smallest and the lowest
  CHECK(c[0].pareto);
  CHECK(c[1].pareto);
  CHECK_FALSE(c[2].pareto);
}

}  // namespace
}  // namespace ember::passes
