#include <cstdio>

#include "formats/manifest_io.h"
#include "formats/onnx_load.h"
#include "formats/sha256.h"
#include "tools/ember-rt/rt_commands.h"
#include "tools/ember-rt/rt_pack_cache.h"

namespace ember::rt {

int report(const Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "ember-rt: error: %s\n", status.message().c_str());
  return status.code() == StatusCode::kInternal ? 3 : 2;
}

Result<std::unique_ptr<runtime::Interpreter>> open_model(const std::string& model_path, const std::string& manifest_path,
                                                         int threads, bool pack_cache, PackCacheStats* cache_stats) {
  if (!manifest_path.empty()) {
    EMBER_ASSIGN_OR_RETURN(nlohmann::json manifest, formats::read_manifest(manifest_path));
    EMBER_ASSIGN_OR_RETURN(std::string hash, formats::sha256_file(model_path));
    const std::string expected = manifest["model"]["sha256"].get<std::string>();
    if (hash != expected)
      return invalid_input("the manifest " + manifest_path + " describes a model with sha256 " + expected + ", but " + model_path +
                           " has sha256 " + hash);
    if (threads <= 0 && manifest.contains("scheduler") && manifest["scheduler"].contains("threads") &&
        manifest["scheduler"]["threads"].is_number_integer())
      threads = manifest["scheduler"]["threads"].get<int>();
  }
  EMBER_ASSIGN_OR_RETURN(ir::Model model, formats::load_onnx(model_path));
  runtime::InterpreterOptions options;
  options.threads = threads;
  options.fuse_float = true;
  PackCacheStats unused;
  auto interp = create_with_pack_cache(model, model_path, options, pack_cache, cache_stats ? cache_stats : &unused);
  if (!interp.ok()) return interp.status().with_context(model_path);
  return interp;
}

}  // namespace ember::rt
