#include "runtime/pack_store.h"

#include <cstring>

namespace ember::runtime {
namespace {

constexpr char kMagic[8] = {'E', 'M', 'B', 'E', 'R', 'P', 'K', '1'};
constexpr size_t kAlign = 64;

size_t align_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

// Reads the image's fields with bounds checks: any read past the end fails the parse.
struct Reader {
  const uint8_t* data;
  size_t size, pos = 0;
  bool ok = true;

  uint64_t u64() {
    if (!ok || size - pos < 8) return ok = false, 0;
    uint64_t v;
    std::memcpy(&v, data + pos, 8);
    pos += 8;
    return v;
  }
  std::string text() {
    const uint64_t n = u64();
    if (!ok || n > size - pos) return ok = false, std::string();
    std::string s(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    return s;
  }
};

void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
void put_text(std::string& out, const std::string& s) { put_u64(out, s.size()), out += s; }

}  // namespace

Result<bool> PackStore::adopt(std::shared_ptr<uint8_t> owner, const uint8_t* image, size_t bytes, const std::string& identity) {
  std::lock_guard<std::mutex> lock(mutex_);
  adopted_.clear();
  owner_.reset();
  const auto damaged = [](const std::string& why) { return invalid_input("the packed-weight cache is damaged: " + why); };
  if (bytes < 16 || std::memcmp(image, kMagic, 8) != 0) return damaged("no EMBERPK1 header");
  Reader r{image, bytes, 8};
  if (r.u64() != bytes) return damaged("its size differs from the size it records (truncated?)");
  const std::string stored_identity = r.text();
  if (!r.ok) return damaged("truncated header");
  if (stored_identity != identity) return false;
  const uint64_t count = r.u64();
  std::map<std::string, Entry> entries;
  for (uint64_t i = 0; r.ok && i < count; ++i) {
    std::string key = r.text();
    const uint64_t offset = r.u64(), length = r.u64();
    if (!r.ok) break;
    if (offset % kAlign != 0 || offset > bytes || length > bytes - offset) return damaged("entry '" + key + "' lies outside it");
    entries[std::move(key)] = Entry{image + offset, length};
  }
  if (!r.ok) return damaged("truncated directory");
  adopted_ = std::move(entries);
  owner_ = std::move(owner);
  return true;
}

ArenaPtr<uint8_t> PackStore::find(const std::string& key, size_t* bytes) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = adopted_.find(key);
  if (it == adopted_.end()) return nullptr;
  *bytes = it->second.bytes;
  return ArenaPtr<uint8_t>(owner_, const_cast<uint8_t*>(it->second.data));
}

void PackStore::record(const std::string& key, std::vector<Part> parts) {
  std::lock_guard<std::mutex> lock(mutex_);
  recorded_[key] = std::move(parts);
}

Status PackStore::serialize(const std::string& identity, std::ostream& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  // Every entry as its parts, adopted ones as one part (a recorded key replaces an adopted one).
  std::map<std::string, std::vector<Part>> all;
  for (const auto& [key, e] : adopted_) all[key] = {Part{e.data, e.bytes}};
  for (const auto& [key, parts] : recorded_) all[key] = parts;
  std::string header(kMagic, 8);
  put_u64(header, 0);  // image size, patched below
  put_text(header, identity);
  put_u64(header, all.size());
  size_t directory = header.size();
  for (const auto& [key, parts] : all) directory += 8 + key.size() + 16;
  size_t offset = align_up(directory);
  for (const auto& [key, parts] : all) {
    size_t bytes = 0;
    for (const Part& p : parts) bytes += p.bytes;
    put_text(header, key);
    put_u64(header, offset);
    put_u64(header, bytes);
    offset = align_up(offset + bytes);
  }
  const uint64_t total = offset;
  std::memcpy(header.data() + 8, &total, 8);
  header.resize(align_up(header.size()), '\0');
  out.write(header.data(), std::streamsize(header.size()));
  const char zeros[kAlign] = {};
  for (const auto& [key, parts] : all) {
    size_t bytes = 0;
    for (const Part& p : parts) {
      out.write(static_cast<const char*>(p.data), std::streamsize(p.bytes));
      bytes += p.bytes;
    }
    out.write(zeros, std::streamsize(align_up(bytes) - bytes));
  }
  if (!out) return invalid_input("writing the packed-weight cache failed");
  return Status::Ok();
}

}  // namespace ember::runtime
