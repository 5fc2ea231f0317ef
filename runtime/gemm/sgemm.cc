// The sgemm driver: ISA dispatch, cache blocking, packing and threading around the
// microkernels of sgemm_{scalar,avx2,avx512}.cc.
//
// Large problems follow the GotoBLAS/BLIS scheme: B is packed (or was packed at load time) in
// panels of nr columns spanning all of K; each thread owns a range of M rows or N panels, and
// for each kc-deep block packs its mc x kc block of A (times alpha) to stay in L2 while one
// kc x nr B micro-panel stays in L1 and sweeps the A micro-panels.
// Small M (decode steps) never packs B: M == 1 runs GEMV kernels that read B along its rows
// (or take dot products with the rows of a transposed B); M <= mr runs one row of tiles that
// read B in place, blocked over K. Packed B is read panel by panel.
#include "runtime/gemm/sgemm.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/gemm/sgemm_kernels.h"
#include "runtime/gemm/sgemm_pack.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace gemm {

IsaLevel kernel_level(IsaLevel level) { return level == IsaLevel::kAvxVnni ? IsaLevel::kAvx2 : level; }

namespace {

// Work below this many multiply-adds per thread is not worth waking another thread.
constexpr int64_t kMinFmaPerThread = int64_t{1} << 20;
// B is packed in column chunks of at most this many floats (8 MB), which stay in L3.
constexpr int64_t kMaxPackedBFloats = int64_t{1} << 21;

const GemmKernels& kernels_for(IsaLevel level) {
  return kernels_at(level, kAvx512Kernels, kAvx2Kernels, kScalarKernels);
}

// The kernels for GemmInputs::kBf16 at `level`: bf16 pairs where it has BF16, else f32.
const GemmKernels& kernels_for(IsaLevel level, bool bf16) {
  return bf16 && kernel_level(level) == IsaLevel::kAvx512 ? kAvx512Bf16Kernels : kernels_for(level);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits `extent` into equal blocks of at most `max_block`, rounded up to a multiple of `align`,
// so no block is a thin leftover.
int64_t balanced_block(int64_t extent, int64_t max_block, int64_t align) {
  const int64_t blocks = ceil_div(extent, max_block);
  return ceil_div(ceil_div(extent, blocks), align) * align;
}

// Chunk size (in units of `fma_per_unit` multiply-adds) below which parallel_for stays inline.
int64_t min_units_per_thread(int64_t fma_per_unit) {
  return std::max<int64_t>(1, ceil_div(kMinFmaPerThread, std::max<int64_t>(fma_per_unit, 1)));
}

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

AlignedFloats allocate_floats(int64_t count) {
  return AlignedFloats(static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t{64})));
}

// Growable scratch owned by one thread, kept between calls so decode steps do not allocate.
class Scratch {
 public:
  float* get(int64_t count) {
    if (count > capacity_) {
      data_ = allocate_floats(count);
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  AlignedFloats data_;
  int64_t capacity_ = 0;
};

thread_local Scratch t_shared_scratch;  // the calling thread's buffers that all workers read
thread_local Scratch t_block_scratch;   // one worker's packed A block
thread_local Scratch t_packed_a_scratch;  // the calling thread's op(A), packed for all workers

struct Problem {
  const GemmKernels* kern = nullptr;
  int64_t M = 0, N = 0, K = 0;      // K in packed elements (pairs of k for the bf16 kernels)
  float alpha = 1, beta = 0;
  MatrixRef a;
  MatrixRef b;                      // unpacked B (when packed_b is null)
  const float* packed_b = nullptr;  // panels of nr columns, each K x nr
  int64_t packed_stride = 0;        // floats from one panel to the next (0: K * nr)
  const float* bias = nullptr;
  float* C = nullptr;
  int64_t ldc = 0;
};

// B panels as the tiles read them: column col of the chunk starting at first_col is in panel
// (col - first_col) / nr, whose row k is at data + panel * panel_stride + k * nr.
struct Panels {
  const float* data;
  int64_t panel_stride;
  int64_t first_col;
};

// C = beta * C (+ bias): the whole product when K == 0 or alpha == 0.
void scale_c(const Problem& p) {
  for (int64_t i = 0; i < p.M; ++i) {
    float* c = p.C + i * p.ldc;
    for (int64_t j = 0; j < p.N; ++j) {
      const float base = p.bias ? p.bias[j] : 0.0f;
      c[j] = p.beta != 0 ? base + p.beta * c[j] : base;
    }
  }
}

// op(A) packed ahead for every thread to read, when the threads split N and would otherwise
// each pack all of A: k-block b (depth kc but the last) at data + b * block_stride, holding
// the mr-row panels of rows [0, M) as pack_a lays them out, so rows [i0, ...) start at
// + i0 * depth. Blocks are kPackASlack apart, so the blocks packed in parallel never overlap.
struct PackedA {
  const float* data = nullptr;
  int64_t block_stride = 0;
};

// One thread's rectangle of C, rows [m0, m1) and panel-aligned columns [n0, n1).
void compute_rect(const Problem& p, const Panels& panels, const PackedA& packed_a, int64_t m0, int64_t m1, int64_t n0,
                  int64_t n1) {
  const GemmKernels& kern = *p.kern;
  const int64_t kc = balanced_block(p.K, kern.kc, 1);
  const int64_t mc = balanced_block(m1 - m0, kern.mc, kern.mr);
  float* a_block = packed_a.data ? nullptr : t_block_scratch.get(mc * kc + kPackASlack);
  for (int64_t k0 = 0; k0 < p.K; k0 += kc) {
    const int64_t depth = std::min(kc, p.K - k0);
    const bool first = k0 == 0;
    for (int64_t i0 = m0; i0 < m1; i0 += mc) {
      const int64_t rows = std::min(mc, m1 - i0);
      const float* a_rows = a_block;
      if (packed_a.data) a_rows = packed_a.data + k0 / kc * packed_a.block_stride + i0 * depth;
      else kern.pack_a(p.a, i0, rows, k0, depth, kern.mr, p.alpha, a_block);
      for (int64_t j = n0; j < n1; j += kern.nr) {
        TileArgs t;
        t.depth = depth;
        t.b = panels.data + (j - panels.first_col) / kern.nr * panels.panel_stride + k0 * kern.nr;
        t.b_stride = kern.nr;
        t.ldc = p.ldc;
        t.n = static_cast<int>(std::min<int64_t>(kern.nr, n1 - j));
        t.beta = first ? p.beta : 1.0f;
        t.bias = first && p.bias ? p.bias + j : nullptr;
        for (int64_t i = 0; i < rows; i += kern.mr) {
          t.a = a_rows + i * depth;
          t.c = p.C + (i0 + i) * p.ldc + j;
          t.m = static_cast<int>(std::min<int64_t>(kern.mr, rows - i));
          kern.tile(t);
        }
      }
    }
  }
}

// Packs all of op(A), one k-block per task, into the calling thread's scratch.
PackedA pack_all_of_a(const Problem& p) {
  const GemmKernels& kern = *p.kern;
  const int64_t kc = balanced_block(p.K, kern.kc, 1);
  const int64_t blocks = ceil_div(p.K, kc);
  PackedA packed;
  packed.block_stride = p.M * kc + kPackASlack;
  float* data = t_packed_a_scratch.get(blocks * packed.block_stride);
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      kern.pack_a(p.a, 0, p.M, b * kc, std::min(kc, p.K - b * kc), kern.mr, p.alpha, data + b * packed.block_stride);
  });
  packed.data = data;
  return packed;
}

// Columns [n0, n0 + cols) of C with their B panels ready: split over M rows or N panels,
// whichever offers more units of work. Split over N, each chunk of panels needs all of A:
// packed once ahead instead of once per chunk (the weight gradients X^T dY, whose M is a
// layer's width, spent a third of their time repacking A).
void compute_parallel(const Problem& p, const Panels& panels, int64_t n0, int64_t cols) {
  const GemmKernels& kern = *p.kern;
  const int64_t m_units = ceil_div(p.M, kern.mr);
  const int64_t n_units = ceil_div(cols, kern.nr);
  if (m_units >= n_units) {
    parallel_for(m_units, min_units_per_thread(kern.mr * cols * p.K), [&](int64_t u0, int64_t u1) {
      compute_rect(p, panels, PackedA{}, u0 * kern.mr, std::min(p.M, u1 * kern.mr), n0, n0 + cols);
    });
  } else {
    const int64_t min_units = min_units_per_thread(p.M * kern.nr * p.K);
    const bool split = num_threads() > 1 && n_units >= 2 * min_units;
    const PackedA packed_a = split ? pack_all_of_a(p) : PackedA{};
    parallel_for(n_units, min_units, [&](int64_t u0, int64_t u1) {
      compute_rect(p, panels, packed_a, 0, p.M, n0 + u0 * kern.nr, std::min(n0 + cols, n0 + u1 * kern.nr));
    });
  }
}

// Packs op(B) columns [n0, n0 + cols), all of K, into panels at out (in parallel).
// Row-major B is copied a few rows at a time across all panels, so reads run along B's rows
// (the hardware prefetchers follow them; a panel at a time would jump a page per row).
void pack_b_columns(const GemmKernels& kern, const MatrixRef& b, int64_t K, int64_t n0, int64_t cols, float* out) {
  const int nr = kern.nr;
  const int64_t panels = ceil_div(cols, nr);
  const int64_t rows_per_step = b.trans ? K : 16;
  // A copied float takes about as long as 100 multiply-adds of the tiles (a few cycles
  // against 32 FMAs a cycle), so the gradients' small B (128 rows of dY) still split.
  parallel_for(panels, min_units_per_thread(128 * K * nr), [&](int64_t p0, int64_t p1) {
    for (int64_t k0 = 0; k0 < K; k0 += rows_per_step) {
      const int64_t depth = std::min(rows_per_step, K - k0);
      for (int64_t q = p0; q < p1; ++q)
        kern.pack_b(b, k0, depth, n0 + q * nr, std::min<int64_t>(nr, cols - q * nr), nr, out + q * K * nr + k0 * nr);
    }
  });
}

void run_blocked(const Problem& p) {
  const int nr = p.kern->nr;
  if (p.packed_b) {
    compute_parallel(p, Panels{p.packed_b, p.packed_stride ? p.packed_stride : p.K * nr, 0}, 0, p.N);
    return;
  }
  const int64_t chunk = std::max<int64_t>(nr, kMaxPackedBFloats / p.K / nr * nr);
  for (int64_t n0 = 0; n0 < p.N; n0 += chunk) {
    const int64_t cols = std::min(chunk, p.N - n0);
    float* packed = t_shared_scratch.get(ceil_div(cols, nr) * nr * p.K);
    pack_b_columns(*p.kern, p.b, p.K, n0, cols, packed);
    compute_parallel(p, Panels{packed, p.K * nr, n0}, n0, cols);
  }
}

// M <= mr: one tile row. A is packed once (tiny); B is read in place when it is not transposed
// (only the ragged last panel is copied so no tile reads past N), or from its packed panels.
void run_small_m(const Problem& p) {
  const GemmKernels& kern = *p.kern;
  const int nr = kern.nr;
  const int64_t panels = ceil_div(p.N, nr);
  const int64_t tail_cols = p.N - (panels - 1) * nr;
  const bool pack_tail = !p.packed_b && tail_cols < nr;
  const int64_t a_floats = p.M * p.K + kPackASlack;
  float* a_packed = t_shared_scratch.get(a_floats + (pack_tail ? p.K * nr : 0));
  float* tail = a_packed + a_floats;
  kern.pack_a(p.a, 0, p.M, 0, p.K, kern.mr, p.alpha, a_packed);
  if (pack_tail) kern.pack_b(p.b, 0, p.K, (panels - 1) * nr, tail_cols, nr, tail);

  // Unpacked B rows are ldb apart; blocking K keeps the pages touched by a sweep few.
  const int64_t kc = p.packed_b ? p.K : balanced_block(p.K, kern.kc, 1);
  parallel_for(panels, min_units_per_thread(p.M * nr * p.K), [&](int64_t q0, int64_t q1) {
    for (int64_t k0 = 0; k0 < p.K; k0 += kc) {
      TileArgs t;
      t.depth = std::min(kc, p.K - k0);
      t.a = a_packed + k0 * p.M;
      t.ldc = p.ldc;
      t.m = static_cast<int>(p.M);
      t.beta = k0 == 0 ? p.beta : 1.0f;
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t j = q * nr;
        t.n = static_cast<int>(std::min<int64_t>(nr, p.N - j));
        if (p.packed_b) {
          t.b = p.packed_b + q * (p.packed_stride ? p.packed_stride : p.K * nr) + k0 * nr;
          t.b_stride = nr;
        } else if (t.n < nr) {
          t.b = tail + k0 * nr;
          t.b_stride = nr;
        } else {
          t.b = p.b.data + k0 * p.b.ld + j;
          t.b_stride = p.b.ld;
        }
        t.c = p.C + j;
        t.bias = k0 == 0 && p.bias ? p.bias + j : nullptr;
        kern.tile(t);
      }
    }
  });
}

// A contiguous copy of op(A)'s single row (M == 1), or A itself when already contiguous.
const float* contiguous_row(const Problem& p) {
  if (!p.a.trans || p.a.ld == 1) return p.a.data;
  float* copy = t_shared_scratch.get(p.K);
  for (int64_t k = 0; k < p.K; ++k) copy[k] = p.a.data[k * p.a.ld];
  return copy;
}

// M == 1 with B not transposed (K x N, rows contiguous): C row += a[k] * B row k, read along
// B's rows.
void run_gemv_n(const Problem& p) {
  const float* a = contiguous_row(p);
  // Columns are split in units of 64 so threads never share a cache line of C.
  constexpr int64_t kUnit = 64;
  parallel_for(ceil_div(p.N, kUnit), min_units_per_thread(kUnit * p.K), [&](int64_t u0, int64_t u1) {
    const int64_t j0 = u0 * kUnit, j1 = std::min(p.N, u1 * kUnit);
    GemvArgs g;
    g.n = j1 - j0;
    g.depth = p.K;
    g.a = a;
    g.b = p.b.data + j0;
    g.ldb = p.b.ld;
    g.c = p.C + j0;
    g.alpha = p.alpha;
    g.beta = p.beta;
    p.kern->gemv_n(g);
  });
}

// M == 1 with B transposed (N x K, rows contiguous): N dot products.
void run_gemv_t(const Problem& p) {
  const float* a = contiguous_row(p);
  parallel_for(p.N, min_units_per_thread(p.K), [&](int64_t j0, int64_t j1) {
    GemvArgs g;
    g.n = j1 - j0;
    g.depth = p.K;
    g.a = a;
    g.b = p.b.data + j0 * p.b.ld;
    g.ldb = p.b.ld;
    g.c = p.C + j0;
    g.alpha = p.alpha;
    g.beta = p.beta;
    p.kern->gemv_t(g);
  });
}

void run(const Problem& p) {
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0 || p.alpha == 0) return scale_c(p);
  // The GEMV kernels and the small-M tiles over B in place read f32: for f32 kernels only.
  const bool f32 = p.kern->k_per_element == 1;
  if (!p.packed_b && p.M == 1 && f32) return p.b.trans ? run_gemv_t(p) : run_gemv_n(p);
  if (p.M <= p.kern->mr && (p.packed_b || (!p.b.trans && f32))) return run_small_m(p);
  run_blocked(p);
}

// Sets the kernels and the depth, in their packed elements, for a product of depth K.
void set_kernels(Problem& p, const GemmKernels& kern, int64_t K) {
  p.kern = &kern;
  p.K = ceil_div(K, kern.k_per_element);
  p.a.k_extent = p.b.k_extent = K;
}

}  // namespace
}  // namespace gemm

struct PackedMatrixBAccess {
  static const gemm::GemmKernels& kernels(const PackedMatrixB& b) {
    return gemm::kernels_for(static_cast<IsaLevel>(b.isa_level_), b.bf16_);
  }

  // Packs op(B) for the kernels of `level` (bf16 pairs if asked and the level has BF16), and
  // records which.
  static PackedMatrixB pack(gemm::MatrixRef b, int64_t K, int64_t N, IsaLevel level, bool bf16) {
    level = gemm::kernel_level(level);
    const gemm::GemmKernels& kern = gemm::kernels_for(level, bf16);
    const int nr = kern.nr;
    const int64_t depth = gemm::ceil_div(K, kern.k_per_element);
    b.k_extent = K;
    PackedMatrixB packed;
    packed.K_ = K;
    packed.N_ = N;
    packed.isa_level_ = static_cast<int>(level);
    packed.bf16_ = kern.k_per_element == 2;
    if (K > 0 && N > 0) {
      packed.data_ = std::shared_ptr<float>(gemm::allocate_floats(gemm::ceil_div(N, nr) * nr * depth).release(),
                                            gemm::AlignedFree{});
      gemm::pack_b_columns(kern, b, depth, 0, N, packed.data_.get());
    }
    return packed;
  }

  // op(B)[0:K, 0:N] as a plain row-major K x N matrix (bf16 values widened exactly).
  static std::vector<float> unpack(const PackedMatrixB& packed, int64_t K, int64_t N) {
    const gemm::GemmKernels& kern = kernels(packed);
    const int64_t nr = kern.nr, step = kern.k_per_element;
    const int64_t panel = gemm::ceil_div(packed.K_, step) * nr;
    std::vector<float> plain(size_t(K * N));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        const float* element = packed.data_.get() + n / nr * panel + k / step * nr + n % nr;
        if (step == 1) {
          plain[size_t(k * N + n)] = *element;
          continue;
        }
        uint32_t word;
        std::memcpy(&word, element, sizeof word);
        const uint32_t bits = (k % 2 ? word >> 16 : word & 0xffffu) << 16;
        std::memcpy(&plain[size_t(k * N + n)], &bits, sizeof bits);
      }
    return plain;
  }

  // The same matrix in another level's layout, for when the ISA level dropped after packing.
  static PackedMatrixB repack(const PackedMatrixB& old, IsaLevel level) {
    std::vector<float> plain = unpack(old, old.K_, old.N_);
    return pack(gemm::MatrixRef{plain.data(), old.N_, false}, old.K_, old.N_, level, old.bf16_);
  }
};

bool bf16_gemm_active() { return gemm::kernel_level(isa_level()) == IsaLevel::kAvx512; }

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmInputs inputs) {
  gemm::Problem p;
  p.M = M;
  p.N = N;
  p.alpha = alpha;
  p.beta = beta;
  p.a = gemm::MatrixRef{A, lda, trans_a};
  p.b = gemm::MatrixRef{B, ldb, trans_b};
  p.C = C;
  p.ldc = ldc;
  // Tiny products stay f32: they would pack B for a row or two of A.
  const bool bf16 = inputs == GemmInputs::kBf16 && M > gemm::kernels_for(isa_level()).mr;
  gemm::set_kernels(p, gemm::kernels_for(isa_level(), bf16), K);
  gemm::run(p);
}

PackedMatrixB PackedMatrixB::pack(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb, GemmInputs inputs) {
  return PackedMatrixBAccess::pack(gemm::MatrixRef{B, ldb, trans_b}, K, N, runtime::isa_level(),
                                   inputs == GemmInputs::kBf16);
}

void sgemm_packed(int64_t M, const float* A, int64_t lda, const PackedMatrixB& B, const float* bias, float* C,
                  int64_t ldc, bool accumulate) {
  // Packed panels are used with the kernels they were packed for while the level in use allows
  // those (AVX2 kernels under avx512 too); after the level was lowered (tests, set_isa_level)
  // the matrix is repacked, per call, for the level in use.
  const IsaLevel current = gemm::kernel_level(isa_level());
  const IsaLevel packed_level = static_cast<IsaLevel>(B.isa_level());
  PackedMatrixB repacked;
  const PackedMatrixB* b = &B;
  if (static_cast<int>(packed_level) > static_cast<int>(current)) {
    repacked = PackedMatrixBAccess::repack(B, current);
    b = &repacked;
  }
  gemm::Problem p;
  p.a = gemm::MatrixRef{A, lda, false};
  gemm::set_kernels(p, PackedMatrixBAccess::kernels(*b), b->K());
  p.M = M;
  p.N = b->N();
  p.beta = accumulate ? 1.0f : 0.0f;
  p.packed_b = b->data();
  p.bias = bias;
  p.C = C;
  p.ldc = ldc;
  gemm::run(p);
}

void sgemm_packed_prefix(bool trans_a, int64_t M, int64_t K, int64_t N, float alpha, const float* A, int64_t lda,
                         const PackedMatrixB& B, float* C, int64_t ldc) {
  if (static_cast<int>(B.isa_level()) != static_cast<int>(gemm::kernel_level(isa_level())) ||
      (B.bf16() && K % 2 != 0 && K < B.K())) {
    // Packed for other kernels (the level changed since), or a prefix that splits a bf16
    // pair: the plain product of the prefix (in bf16 again, if B was).
    std::vector<float> plain = PackedMatrixBAccess::unpack(B, K, N);
    sgemm(trans_a, false, M, N, K, alpha, A, lda, plain.data(), N, 0.0f, C, ldc,
          B.bf16() ? GemmInputs::kBf16 : GemmInputs::kF32);
    return;
  }
  gemm::Problem p;
  p.a = gemm::MatrixRef{A, lda, trans_a};
  gemm::set_kernels(p, PackedMatrixBAccess::kernels(B), K);
  p.M = M;
  p.N = N;
  p.alpha = alpha;
  p.packed_b = B.data();
  p.packed_stride = gemm::ceil_div(B.K(), p.kern->k_per_element) * p.kern->nr;
  p.C = C;
  p.ldc = ldc;
  gemm::run(p);
}

}  // namespace ember::runtime
