#include "tools/ember/cli_common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "formats/onnx_load.h"
#include "ir/memory_limits.h"

namespace ember::cli {

int exit_code_for(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kBudgetMissed: return kExitBudgetMissed;
    case StatusCode::kInvalidInput:
    case StatusCode::kUnsupported: return kExitBadInput;
    case StatusCode::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int report(const Status& status) {
  if (!status.ok()) std::fprintf(stderr, "ember: error: %s\n", status.message().c_str());
  return exit_code_for(status);
}

Result<ir::Model> load_model(const std::string& path) { return formats::load_onnx(path); }

Result<std::unique_ptr<formats::ExternalDataWriter>> write_data_during_passes(const std::string& output,
                                                                              formats::SaveOptions& save,
                                                                              passes::PassContext& ctx) {
  if (!save.external_data) return std::unique_ptr<formats::ExternalDataWriter>();
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<formats::ExternalDataWriter> writer, formats::start_external_data(output, save));
  save.data_writer = ctx.data_writer = writer.get();
  return writer;
}

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO) != 0) {}

Progress::~Progress() {
  if (drawn_) std::fprintf(stderr, "\n");
}

void Progress::update(int64_t done) {
  if (!tty_ || total_ <= 0) return;
  const int width = 30;
  const int filled = static_cast<int>(width * done / total_);
  // ETA: the time so far scaled to the work left (after the first step).
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0;
  std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld, eta %.0f s  ", label_.c_str(), filled, "##############################",
               width - filled, "", static_cast<long long>(done), static_cast<long long>(total_), eta);
  std::fflush(stderr);
  drawn_ = true;
}

std::function<void(int64_t, int64_t)> Progress::callback() {
  return [this](int64_t done, int64_t total) {
    total_ = total;
    update(done);
  };
}

std::string human_bytes(double bytes) { return format_bytes(bytes > 0 && bytes < 1.8e19 ? uint64_t(bytes) : 0); }

OutputDirectory::~OutputDirectory() {
  std::error_code ec;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it)
    if (std::filesystem::is_empty(*it, ec) && !ec) std::filesystem::remove(*it, ec);
}

Status OutputDirectory::create(const std::string& path) {
  std::error_code ec;
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = std::filesystem::path(path).lexically_normal(); !p.empty() && !std::filesystem::exists(p, ec);
       p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (!std::filesystem::create_directory(*it, ec) && ec)
      return invalid_input("cannot create output directory " + path + ": " + ec.message());
    created_.push_back(it->string());
  }
  if (!std::filesystem::is_directory(path, ec)) return invalid_input("cannot create output directory " + path + ": it is not a directory");
  return Status::Ok();
}

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ember::cli
