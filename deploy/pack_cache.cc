#include "deploy/pack_cache.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <set>

#include "formats/atomic_file.h"
#include "formats/mapped_file.h"
#include "runtime/cpu.h"
#include "runtime/pack_store.h"

namespace ember::deploy {
namespace {

constexpr char kPackFormat[] = "ember-pack 1";

std::string file_identity(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return path + " missing";
  return path + " dev " + std::to_string(st.st_dev) + " ino " + std::to_string(st.st_ino) + " size " +
         std::to_string(st.st_size) + " mtime " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + " ctime " + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

std::string cache_identity(const ir::Model& model, const std::string& model_path) {
  std::string id = std::string(kPackFormat) + "; isa " + std::string(runtime::isa_name(runtime::isa_level()));
  for (const std::string& file : model_files(model, model_path)) id += "; " + file_identity(file);
  return id;
}

}  // namespace

std::vector<std::string> model_files(const ir::Model& model, const std::string& model_path) {
  std::vector<std::string> files = {model_path};
  std::set<std::string> locations;
  for (const auto& [name, location] : model.graph.external_locations) locations.insert(location);
  const std::string dir = formats::parent_directory(model_path);
  for (const std::string& location : locations) files.push_back(dir.empty() ? location : dir + "/" + location);
  return files;
}

Result<std::unique_ptr<runtime::Interpreter>> create_with_pack_cache(const ir::Model& model, const std::string& model_path,
                                                                     runtime::InterpreterOptions options, bool use_cache,
                                                                     PackCacheStats* stats) {
  if (!use_cache) return runtime::Interpreter::create(model, options);
  runtime::PackStore store;
  const std::string identity = cache_identity(model, model_path);
  stats->path = model_path + ".ember-pack";
  struct stat st {};
  if (stat(stats->path.c_str(), &st) == 0) {
    auto mapped = formats::map_file(stats->path);
    if (mapped.ok()) {
      std::shared_ptr<formats::MappedFile> file = *mapped;
      // Every packed weight is read by the first inference: map the pages now, in bulk
      // (reading them from the disk first on a cold start), instead of one fault at a time.
      madvise(file->mutable_data(), file->size(), MADV_WILLNEED);
#ifdef MADV_POPULATE_READ
      madvise(file->mutable_data(), file->size(), MADV_POPULATE_READ);
#endif
      std::shared_ptr<uint8_t> owner(file, file->mutable_data());
      auto adopted = store.adopt(owner, file->data(), file->size(), identity);
      stats->used = adopted.ok() && *adopted;  // a damaged or stale cache is replaced below
    }
  }
  options.packs = &store;
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Interpreter> interp, runtime::Interpreter::create(model, options));
  stats->hits = store.hits();
  stats->misses = store.misses();
  if (stats->misses > 0)
    stats->written = formats::write_file_atomic(stats->path, [&](std::ostream& out) { return store.serialize(identity, out); }).ok();
  return interp;
}

}  // namespace ember::deploy
