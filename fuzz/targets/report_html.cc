// Fuzz target: report.html from any manifest-shaped JSON. Whatever the manifest holds (hostile
// names, wrong types, huge or tiny numbers), the page renders, is deterministic, and no string
// of it becomes markup: no element the page does not write itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "passes/report/report_html.h"

namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto manifest = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) return 0;
  const std::string html = ember::passes::build_report_html(manifest);
  for (const char* markup : {"<script", "<img", "<iframe", "<object", "<embed", "<link", "<a ", "<foreignObject", "javascript:"})
    if (html.find(markup) != std::string::npos) std::abort();
  if (count(html, "<svg ") != count(html, "</svg>") || count(html, "<svg ") > 3) std::abort();
  if (html.find("</html>\n") + 8 != html.size()) std::abort();
  if (ember::passes::build_report_html(manifest) != html) std::abort();
  return 0;
}
