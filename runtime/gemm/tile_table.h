// Run-time choice among compile-time register tiles, shared by the sgemm and qgemm
// microkernels: Tiles::run<MR, NV>(args) is instantiated for every 1 <= MR <= MaxMR and
// 1 <= NV <= MaxNV, and dispatch_tile calls the one for the given rows and vectors.
// Tiles carries the ISA's vector type, which lives in an anonymous namespace, so every
// instantiation keeps internal linkage.
#pragma once
#include <utility>

namespace ember::runtime {

template <class Args, class Tiles, int MaxMR, int MaxNV, int... Is>
constexpr auto make_tile_table(std::integer_sequence<int, Is...>) {
  struct Table {
    void (*fn[MaxMR * MaxNV])(const Args&);
  };
  return Table{{&Tiles::template run<Is / MaxNV + 1, Is % MaxNV + 1>...}};
}

template <class Args, class Tiles, int MaxMR, int MaxNV>
void dispatch_tile(const Args& args, int rows, int vectors) {
  static constexpr auto table = make_tile_table<Args, Tiles, MaxMR, MaxNV>(std::make_integer_sequence<int, MaxMR * MaxNV>{});
  table.fn[(rows - 1) * MaxNV + (vectors - 1)](args);
}

}  // namespace ember::runtime
