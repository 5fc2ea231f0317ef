// The packed-weight cache of ember-rt: a file beside the model ("MODEL.ember-pack") holding the
// weights the kernels packed (runtime/pack_store.h), so that the next load maps it instead of
// repacking every weight. It is keyed by the identity of the model's files (device, inode, size,
// modification and change times of the model and each external-data file), the CPU's ISA level
// and the pack format; a cache for anything else, or a damaged one, is ignored and rewritten.
//
// Why a cache rather than packing at compression time: the packed layout depends on the CPU
// (ISA level, and later tile sizes), it is not a layout onnxruntime reads, and a model is
// produced once but may run on several machines; the cache keeps the ONNX file standard.
// Why the files' identity rather than a hash of their bytes: hashing 0.7 GB of weights costs
// more than the whole 0.5 s start; a change time cannot be set back by a user.
#pragma once
#include <memory>
#include <string>

#include "ir/model.h"
#include "runtime/interpreter.h"

namespace ember::deploy {

struct PackCacheStats {
  bool used = false;        // a valid cache was found and adopted
  bool written = false;     // a new cache was written (there were misses)
  size_t hits = 0, misses = 0;
  std::string path;
};

// Creates the interpreter of `model` (loaded from `model_path`), reusing and then refreshing the
// cache beside it when `use_cache`. Failing to write the cache (read-only directory, full disk)
// is not an error: the model runs the same, only the next start is slower.
Result<std::unique_ptr<runtime::Interpreter>> create_with_pack_cache(const ir::Model& model, const std::string& model_path,
                                                                     runtime::InterpreterOptions options, bool use_cache,
                                                                     PackCacheStats* stats);

// The files a model reads: the model and its external-data files (for cache keys and --cold).
std::vector<std::string> model_files(const ir::Model& model, const std::string& model_path);

}  // namespace ember::deploy
