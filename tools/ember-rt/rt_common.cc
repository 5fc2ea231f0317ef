#include <cstdio>

#include "tools/ember-rt/rt_commands.h"

namespace ember::rt {

int report(const Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "ember-rt: error: %s\n", status.message().c_str());
  return status.code() == StatusCode::kInternal ? 3 : 2;
}

Status check_range(const char* option, long long value, long long lo, long long hi) {
  if (value >= lo && value <= hi) return Status::Ok();
  return invalid_input(std::string(option) + " " + std::to_string(value) + " is out of range [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]");
}

Result<std::unique_ptr<deploy::Session>> open_model(const std::string& model_path, const std::string& manifest_path, int threads,
                                                    bool dynamic_batch, const std::string& sysfs_root, bool pack_cache) {
  deploy::SessionOptions o;
  o.model_path = model_path;
  o.manifest_path = manifest_path;
  o.threads = threads;
  o.dynamic_batch = dynamic_batch;
  o.sysfs_root = sysfs_root;
  o.pack_cache = pack_cache;
  EMBER_ASSIGN_OR_RETURN(auto session, deploy::Session::open(o));
  if (!session->manifest() && threads > session->threads())
    std::fprintf(stderr, "ember-rt: warning: %d threads asked, %d cores available: using %d\n", threads, deploy::available_cores(),
                 session->threads());
  if (session->manifest())
    for (const auto& c : session->manifest()->checks)
      if (c.level == deploy::CheckLevel::kWarn) std::fprintf(stderr, "ember-rt: warning: %s: %s\n", c.name.c_str(), c.detail.c_str());
  return session;
}

}  // namespace ember::rt
