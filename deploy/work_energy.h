// The energy model's estimate of one inference, from the work the interpreter actually did:
// for every node that reads a weight (an initializer of rank >= 2), the weight bytes it reads
// (for Gather-like lookups only the rows it returns) and its multiply-adds, out.numel() times
// the weight's elements per output column; integer weights count as int8 MACs. Priced with
// runtime/energy_model.h (Horowitz, ISSCC 2014).
//
// The work depends on the feeds' shapes only, so it is measured once per shape (by observing
// the run that first sees the shape) and cached.
#pragma once
#include <map>
#include <mutex>
#include <string>

#include "runtime/energy_model.h"
#include "runtime/interpreter.h"

namespace ember::deploy {

class WorkEnergy {
 public:
  explicit WorkEnergy(const ir::Model& running_model);
  // Runs `interp` on `feeds` and returns the outputs; records the work of this shape the first
  // time it is seen.
  Result<std::vector<Tensor>> run(runtime::Interpreter& interp, const std::map<std::string, Tensor>& feeds);
  // The estimate for feeds of these shapes, if a run with them has been observed.
  bool known(const std::map<std::string, Tensor>& feeds) const;
  double microjoules(const std::map<std::string, Tensor>& feeds) const;
  runtime::WorkEstimate work(const std::map<std::string, Tensor>& feeds) const;

 private:
  static std::string shape_key(const std::map<std::string, Tensor>& feeds);
  void add_node_work(const std::string& value, const Tensor& out, runtime::WorkEstimate& work) const;

  struct Reader {
    const Tensor* weight;
    bool lookup;  // Gather-like: reads only the rows it returns
  };
  std::map<std::string, Reader> weight_reader_of_output_;  // first output of a weight-reading node
  mutable std::mutex mutex_;
  std::map<std::string, runtime::WorkEstimate> by_shape_;
};

}  // namespace ember::deploy
