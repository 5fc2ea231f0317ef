// ember-rt check MODEL --manifest M [--threads N] [--json]
// Prints what was verified: schema, sha256, required ops, ISA and backend, threads, accuracy
// budget. Exit 0 when the model can run here (warnings included), 2 when a check fails.
#include <cstdio>

#include "deploy/manifest_check.h"
#include "tools/ember-rt/rt_commands.h"

namespace ember::rt {
namespace {

struct CheckOptions {
  std::string model, manifest;
  int threads = 0;
  bool json = false;
};

int check(const CheckOptions& o) {
  if (Status st = check_range("--threads", o.threads, 0, 4096); !st.ok()) return report(st);
  auto v = deploy::verify_manifest(o.manifest, o.model, o.threads);
  if (!v.ok()) return report(v.status());
  if (o.json) {
    std::printf("%s\n", deploy::verified_to_json(*v).dump(2).c_str());
  } else {
    for (const auto& c : v->checks) std::printf("%-5s %-8s %s\n", deploy::check_level_name(c.level), c.name.c_str(), c.detail.c_str());
    std::printf("%s: backend %s, %d threads\n", v->runnable() ? "runnable" : "NOT runnable", v->backend_used.c_str(), v->threads_used);
  }
  if (!v->runnable()) return report(deploy::first_failure(*v).with_context(o.manifest));
  return 0;
}

}  // namespace

void add_check_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand("check", "Verify a model against its manifest and this machine (what run/bench/serve check first)");
  sub->add_option("model", o->model, "The ONNX model")->required();
  sub->add_option("--manifest", o->manifest, "The model's manifest.json")->required();
  sub->add_option("--threads", o->threads, "Threads to ask for (0 = the manifest's figure, else all cores)")->default_val(0);
  sub->add_flag("--json", o->json, "Print JSON");
  sub->final_callback([o, &exit_code] { exit_code = check(*o); });
}

}  // namespace ember::rt
