#include "formats/external_data_writer.h"

#include <ostream>
#include <system_error>

#include "formats/atomic_file.h"

namespace ember::formats {
namespace {

constexpr uint64_t kAlignment = 64;  // save_onnx's external-data alignment

uint64_t aligned(uint64_t offset) { return (offset + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

ExternalDataWriter::ExternalDataWriter(std::string path, size_t threshold) : path_(std::move(path)), threshold_(threshold) {
  AtomicWriteOptions options;
  options.direct = true;  // weights: skip the page cache (atomic_file.h); a file system without O_DIRECT is buffered
  try {
    thread_ = std::thread([this, options] {
      Status s = write_file_atomic(path_, [this](std::ostream& out) { return write_queue(out); }, options);
      std::lock_guard<std::mutex> lock(mutex_);
      result_ = std::move(s);
    });
  } catch (const std::system_error& e) {
    closed_ = true;
    result_ = internal_error("cannot start the writer of '" + path_ + "': " + e.what());
  }
}

ExternalDataWriter::~ExternalDataWriter() { stop(/*abandon=*/true); }

// The writer thread's body: each queued tensor at its offset, zeros between them, until the
// queue is closed. Abandoning makes it fail, so write_file_atomic removes the temporary.
Status ExternalDataWriter::write_queue(std::ostream& out) {
  static const char zeros[kAlignment] = {};
  uint64_t cursor = 0;
  for (;;) {
    Pending next;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return abandoned_ || closed_ || !queue_.empty(); });
      if (abandoned_) return invalid_input("abandoned");
      if (queue_.empty()) return Status::Ok();  // closed and drained
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    out.write(zeros, static_cast<std::streamsize>(next.offset - cursor));
    out.write(static_cast<const char*>(next.tensor.raw()), static_cast<std::streamsize>(next.tensor.nbytes()));
    if (!out) return Status::Ok();  // write_file_atomic reports the stream's errno
    cursor = next.offset + next.tensor.nbytes();
  }
}

std::optional<uint64_t> ExternalDataWriter::append(const Tensor& t) {
  if (!t.defined() || t.dtype() == DType::kString || t.nbytes() == 0 || t.nbytes() < threshold_) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return std::nullopt;
  const auto [it, added] = taken_.try_emplace({t.raw(), t.nbytes()}, Pending{t, aligned(end_)});
  const uint64_t offset = it->second.offset;
  if (!added) return offset;
  end_ = offset + t.nbytes();
  queue_.push_back(it->second);
  wake_.notify_one();
  return offset;
}

std::optional<uint64_t> ExternalDataWriter::offset_of(const Tensor& t) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = taken_.find({t.raw(), t.nbytes()});
  return it == taken_.end() ? std::nullopt : std::optional<uint64_t>(it->second.offset);
}

size_t ExternalDataWriter::tensors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return taken_.size();
}

void ExternalDataWriter::stop(bool abandon) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    if (abandon && !finished_) abandoned_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

Status ExternalDataWriter::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (abandoned_) return internal_error("the writer of '" + path_ + "' was abandoned");
  }
  stop(/*abandon=*/false);
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = result_.ok();
  return result_;
}

void ExternalDataWriter::abandon() { stop(/*abandon=*/true); }

}  // namespace ember::formats
