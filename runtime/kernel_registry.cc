#include "runtime/kernel.h"

namespace ember::runtime {

#define KERNEL_FAMILY(family) void register_##family##_kernels(KernelRegistry&);
#include "runtime/kernels.def"
#undef KERNEL_FAMILY

void KernelRegistry::add(std::string op_type, std::string domain, int since_version, KernelFactory make) {
  defs_.push_back({std::move(op_type), std::move(domain), since_version, std::move(make)});
}

void KernelRegistry::add_function(std::string op_type, std::string domain, int since_version, RunFunction fn) {
  add(std::move(op_type), std::move(domain), since_version,
      [fn] { return std::make_unique<FunctionKernel>(fn); });
}

const KernelDef* KernelRegistry::find(std::string_view op_type, std::string_view domain, int64_t opset) const {
  const std::string_view d = domain == "ai.onnx" ? std::string_view() : domain;
  const KernelDef* best = nullptr;
  for (const auto& def : defs_) {
    if (def.op_type != op_type || def.domain != d) continue;
    if (def.since_version > opset && opset > 0) continue;
    if (!best || def.since_version > best->since_version) best = &def;
  }
  return best;
}

const KernelRegistry& default_registry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
#define KERNEL_FAMILY(family) register_##family##_kernels(r);
#include "runtime/kernels.def"
#undef KERNEL_FAMILY
    return r;
  }();
  return registry;
}

}  // namespace ember::runtime
