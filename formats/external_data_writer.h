// ExternalDataWriter: a model's external-data file written while the passes still run.
//
// Without it the output's weights are written after the last pass, by save_onnx: on the 1 B
// Llama, INT4 RTN computes for 1.3 s and then waits 0.35 s for the disk. With it, a pass hands
// over each initializer as soon as it is final (quantize-weights: one layer at a time), a
// background thread appends its bytes to the data file's temporary (write_file_atomic, with
// O_DIRECT where the file system allows it), and save_onnx (SaveOptions::data_writer) appends only the rest and keeps
// the offsets already given. The file is deterministic: tensors in the order they were handed
// over, then the others in the order of the graph, each at a 64-byte aligned offset.
//
// Bytes handed over must not change afterwards. Ember's passes never edit an initializer's
// bytes in place (copies of a Tensor share them); they set a new tensor. A tensor handed over
// that the saved graph no longer holds (a later pass removed it) makes save_onnx abandon the
// writer and write the data file afresh, so no dead bytes are ever saved.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::formats {

class ExternalDataWriter {
 public:
  // Starts writing `path` (the data file's name while its model is not yet saved; save_onnx
  // renames it into place). Tensors under `threshold` bytes stay inline in the model, as
  // SaveOptions::external_threshold says, and are not taken.
  ExternalDataWriter(std::string path, size_t threshold);
  ExternalDataWriter(const ExternalDataWriter&) = delete;
  ExternalDataWriter& operator=(const ExternalDataWriter&) = delete;
  ~ExternalDataWriter();  // abandons an unfinished file: nothing is left on disk

  const std::string& path() const { return path_; }
  // Queues t's bytes (kept alive while the writer lives) at the next aligned offset and
  // returns it. A tensor already queued (same bytes) returns its offset again; one under the
  // threshold, empty or of strings is not taken (nullopt).
  std::optional<uint64_t> append(const Tensor& t);
  // Where append put t's bytes, found by address and size; nullopt for bytes never handed over.
  std::optional<uint64_t> offset_of(const Tensor& t) const;
  size_t tensors() const;  // how many distinct tensors were taken
  // Waits until everything queued is on disk and the file is complete at path(). Returns the
  // first write error (a full disk names the path), then nothing is left.
  Status finish();
  // Stops writing and removes what was written. finish() afterwards is an error.
  void abandon();

 private:
  struct Pending {
    Tensor tensor;
    uint64_t offset = 0;
  };
  Status write_queue(std::ostream& out);
  void stop(bool abandon);

  const std::string path_;
  const size_t threshold_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  // (address, bytes) -> the tensor and its offset. Each tensor is kept alive here, so no
  // other tensor can take its address while the writer lives and be mistaken for it.
  std::map<std::pair<const void*, size_t>, Pending> taken_;
  uint64_t end_ = 0;
  bool closed_ = false, abandoned_ = false, finished_ = false;
  Status result_;
  std::thread thread_;
};

}  // namespace ember::formats
