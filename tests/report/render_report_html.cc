// Test helper: renders report.html from a manifest file, so the browser test can check a page
// with a full search section (tests/report/search_manifest.json) besides a real run's.
//   render_report_html MANIFEST.json OUT.html
#include <cstdio>
#include <fstream>
#include <sstream>

#include "formats/atomic_file.h"
#include "passes/report/report_html.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: render_report_html MANIFEST.json OUT.html\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  const auto manifest = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!in || manifest.is_discarded()) {
    std::fprintf(stderr, "render_report_html: cannot read the JSON of %s\n", argv[1]);
    return 2;
  }
  const auto status = ember::formats::write_string_atomic(argv[2], ember::passes::build_report_html(manifest));
  if (!status.ok()) {
    std::fprintf(stderr, "render_report_html: %s\n", status.message().c_str());
    return 2;
  }
  return 0;
}
