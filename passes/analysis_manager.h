// Analyses computed once and cached (LLVM's AnalysisManager is the model). An analysis is a
// class with
//   static constexpr std::string_view kName;   // stable, kebab-case: "importance"
//   struct Options { ...; std::string key() const; };   // key(): canonical text of what changes the result
//   using Output = ...;
//   static Result<Output> compute(const ir::Model&, const calibration::CalibrationSet&, const Options&,
//                                 const ProgressFn&);   // progress may be empty
// get<A>(model, options) computes A on the first request and returns the cached result after
// that. A result belongs to the model as it was when computed: after each pass the
// PassManager drops every result the pass does not declare preserved (Pass::preserved()).
// A copy of a manager shares the results computed so far and caches on its own from then on:
// the search gives each candidate a copy of the manager that analysed the FP32 model, so
// candidates reuse the FP32 analyses and a candidate's invalidations never reach the others.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::calibration {
class CalibrationSet;
}

namespace ember::passes {

// Which cached analyses survive a pass.
class PreservedAnalyses {
 public:
  static PreservedAnalyses all() {
    PreservedAnalyses p;
    p.all_ = true;
    return p;
  }
  static PreservedAnalyses none() { return {}; }
  PreservedAnalyses& preserve(std::string_view analysis) {
    names_.insert(std::string(analysis));
    return *this;
  }
  bool preserves(std::string_view analysis) const { return all_ || names_.count(std::string(analysis)) > 0; }

 private:
  bool all_ = false;
  std::set<std::string> names_;
};

// Progress of a long analysis: batches done out of total.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

class AnalysisManager {
 public:
  // Told when an analysis starts computing; returns where its progress goes (or nothing).
  using ProgressSink = std::function<ProgressFn(std::string_view analysis)>;

  explicit AnalysisManager(const calibration::CalibrationSet* calib = nullptr)
      : calib_(calib), computations_(std::make_shared<std::map<std::string, int64_t>>()) {}

  const calibration::CalibrationSet* calib() const { return calib_; }
  void set_progress(ProgressSink sink) { progress_ = std::move(sink); }

  template <class A>
  Result<std::shared_ptr<const typename A::Output>> get(const ir::Model& model, const typename A::Options& options = {}) {
    const std::string key = std::string(A::kName) + "{" + options.key() + "}";
    auto it = cache_.find(key);
    if (it != cache_.end()) return std::static_pointer_cast<const typename A::Output>(it->second.result);
    if (!calib_)
      return invalid_input("the " + std::string(A::kName) +
                           " analysis needs a calibration set (--calib SET); none was given");
    const ProgressFn progress = progress_ ? progress_(A::kName) : ProgressFn();
    auto computed = A::compute(model, *calib_, options, progress);
    if (!computed.ok()) return computed.status().with_context(std::string(A::kName) + " analysis");
    auto result = std::make_shared<const typename A::Output>(std::move(computed).value());
    cache_[key] = {std::string(A::kName), result, ++sequence_};
    ++(*computations_)[std::string(A::kName)];
    return result;
  }

  // A cached result of A, whatever options computed it (the most recently computed), or nullptr.
  // For a pass that reads what an earlier pass of the pipeline analysed.
  template <class A>
  std::shared_ptr<const typename A::Output> find() const {
    const Entry* latest = nullptr;
    for (const auto& [key, entry] : cache_)
      if (entry.analysis == A::kName && (!latest || entry.sequence > latest->sequence)) latest = &entry;
    return latest ? std::static_pointer_cast<const typename A::Output>(latest->result) : nullptr;
  }

  // What an earlier pass analysed (find), else A computed now with `options` (get).
  template <class A>
  Result<std::shared_ptr<const typename A::Output>> find_or_get(const ir::Model& model, const typename A::Options& options = {}) {
    if (auto found = find<A>()) return found;
    return get<A>(model, options);
  }

  // Drops every cached result that `kept` does not preserve.
  void invalidate(const PreservedAnalyses& kept) {
    for (auto it = cache_.begin(); it != cache_.end();)
      it = kept.preserves(it->second.analysis) ? std::next(it) : cache_.erase(it);
  }
  // How many times an analysis was computed, by this manager and every copy of it.
  int64_t computations(std::string_view analysis) const {
    auto it = computations_->find(std::string(analysis));
    return it == computations_->end() ? 0 : it->second;
  }
  size_t cached() const { return cache_.size(); }

 private:
  struct Entry {
    std::string analysis;
    std::shared_ptr<const void> result;
    int64_t sequence = 0;  // order of computation
  };
  const calibration::CalibrationSet* calib_;
  ProgressSink progress_;
  int64_t sequence_ = 0;
  std::map<std::string, Entry> cache_;
  std::shared_ptr<std::map<std::string, int64_t>> computations_;
};

}  // namespace ember::passes
