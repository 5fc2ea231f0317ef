// A first-order energy model per inference: bytes moved from DRAM plus arithmetic, with the
// per-operation energies of Horowitz, "Computing's energy problem" (ISSCC 2014, 45 nm):
// DRAM read 640 pJ per 32-bit word (20 pJ/byte); fp32 multiply-add 3.7 + 0.9 pJ; int8
// multiply-add 0.2 + 0.03 pJ. Absolute values vary with the process; ratios between two
// versions of one model are what the figure is for.
#pragma once
#include <cstdint>

namespace ember::runtime {

struct EnergyModel {
  double dram_pj_per_byte = 20.0;
  double fp32_mac_pj = 4.6;
  double int8_mac_pj = 0.23;
};

struct WorkEstimate {
  double weight_bytes = 0;   // weight bytes read per inference
  double fp32_macs = 0;
  double int8_macs = 0;      // integer MACs (int8 or int4 weights with int8 activations)
};

// Estimated energy in microjoules.
inline double estimate_microjoules(const WorkEstimate& w, const EnergyModel& m = {}) {
  return (w.weight_bytes * m.dram_pj_per_byte + w.fp32_macs * m.fp32_mac_pj + w.int8_macs * m.int8_mac_pj) * 1e-6;
}

}  // namespace ember::runtime
