#include "runtime/kernels/integer_matmul.h"

#include <algorithm>

#include "runtime/kernels/kernel_util.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace {

// Index of each output batch position in a (broadcast) operand batch shape.
std::vector<int64_t> batch_index(const Shape& operand_batch, const Shape& out_batch) {
  const std::vector<int64_t> strides = broadcast_strides(operand_batch, out_batch);
  const int64_t count = shape_numel(out_batch);
  std::vector<int64_t> index(static_cast<size_t>(count), 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t rem = i, offset = 0;
    for (size_t d = out_batch.size(); d-- > 0;) {
      offset += (rem % out_batch[d]) * strides[d];
      rem /= out_batch[d];
    }
    index[size_t(i)] = offset;
  }
  return index;
}

}  // namespace

void widen_row_i16(DType dtype, const void* data, int64_t offset, int64_t n, int32_t zero_point, int16_t* out) {
  if (dtype == DType::kU8) {
    const uint8_t* p = static_cast<const uint8_t*>(data) + offset;
    for (int64_t k = 0; k < n; ++k) out[k] = static_cast<int16_t>(int32_t{p[k]} - zero_point);
  } else {
    const int8_t* p = static_cast<const int8_t*>(data) + offset;
    for (int64_t k = 0; k < n; ++k) out[k] = static_cast<int16_t>(int32_t{p[k]} - zero_point);
  }
}

Result<MatMulShapes> matmul_shapes(const Shape& a_in, const Shape& b_in, const std::string& where) {
  if (a_in.empty() || b_in.empty())
    return invalid_input(where + ": matrix product operands must have rank >= 1, got " + shape_to_string(a_in) +
                         " and " + shape_to_string(b_in));
  const bool a_vector = a_in.size() == 1, b_vector = b_in.size() == 1;
  const Shape a = a_vector ? Shape{1, a_in[0]} : a_in;
  const Shape b = b_vector ? Shape{b_in[0], 1} : b_in;
  MatMulShapes s;
  s.M = a[a.size() - 2];
  s.K = a[a.size() - 1];
  s.N = b[b.size() - 1];
  if (b[b.size() - 2] != s.K)
    return invalid_input(where + ": inner dimensions differ: " + shape_to_string(a_in) + " x " + shape_to_string(b_in));
  s.a_batch.assign(a.begin(), a.end() - 2);
  s.b_batch.assign(b.begin(), b.end() - 2);
  EMBER_ASSIGN_OR_RETURN(Shape out_batch, broadcast_shapes({s.a_batch, s.b_batch}, where));
  s.a_matrices = shape_numel(s.a_batch);
  s.b_matrices = shape_numel(s.b_batch);
  s.a_index = batch_index(s.a_batch, out_batch);
  s.b_index = batch_index(s.b_batch, out_batch);
  s.out_shape = out_batch;
  if (!a_vector) s.out_shape.push_back(s.M);
  if (!b_vector) s.out_shape.push_back(s.N);
  return s;
}

template <class T>
Result<std::vector<T>> expand_matrix_param(const std::vector<T>& values, const Shape& param_shape,
                                           const MatMulShapes& s, bool for_a, const std::string& where,
                                           const std::string& what) {
  const int64_t length = for_a ? s.M : s.N;
  const int64_t matrices = for_a ? s.a_matrices : s.b_matrices;
  std::vector<T> out(static_cast<size_t>(matrices * length));
  if (values.size() == 1) {
    std::fill(out.begin(), out.end(), values[0]);
    return out;
  }
  Shape target = for_a ? s.a_batch : s.b_batch;
  target.push_back(for_a ? s.M : 1);
  target.push_back(for_a ? 1 : s.N);
  Shape shape = param_shape;
  if (shape.size() == 1 && shape[0] == length) shape = for_a ? Shape{length, 1} : Shape{1, length};
  bool fits = shape.size() >= 2 && shape.size() <= target.size();
  for (size_t i = 0; fits && i < shape.size(); ++i) {
    const int64_t t = target[target.size() - shape.size() + i];
    fits = shape[i] == 1 || shape[i] == t;
  }
  if (!fits)
    return invalid_input(where + ": " + what + " of shape " + shape_to_string(param_shape) + " is neither per tensor nor per " +
                         (for_a ? "row" : "column") + " (expected a scalar, [" + std::to_string(length) +
                         "] or shape broadcastable to " + shape_to_string(target) + ")");
  const std::vector<int64_t> strides = broadcast_strides(shape, target);
  const std::vector<int64_t> index = contiguous_strides(target);
  for (int64_t flat = 0; flat < matrices * length; ++flat) {
    int64_t offset = 0;
    for (size_t d = 0; d < target.size(); ++d) offset += ((flat / index[d]) % target[d]) * strides[d];
    out[size_t(flat)] = values[size_t(offset)];
  }
  return out;
}

template Result<std::vector<int32_t>> expand_matrix_param(const std::vector<int32_t>&, const Shape&,
                                                          const MatMulShapes&, bool, const std::string&,
                                                          const std::string&);
template Result<std::vector<float>> expand_matrix_param(const std::vector<float>&, const Shape&, const MatMulShapes&,
                                                        bool, const std::string&, const std::string&);

PackedIntB pack_int_b(const Tensor& b, const std::vector<int32_t>& zero_points, int64_t matrices, int64_t K,
                      int64_t N) {
  PackedIntB packed;
  packed.matrices = matrices;
  packed.K = K;
  packed.N = N;
  packed.data.resize(static_cast<size_t>(matrices * N * K));
  std::vector<int16_t> row(static_cast<size_t>(N));
  std::vector<int32_t> zero(static_cast<size_t>(N), 0);
  for (int64_t j = 0; j < matrices; ++j)
    for (int64_t k = 0; k < K; ++k) {
      widen_row_i16(b.dtype(), b.raw(), (j * K + k) * N, N, 0, row.data());
      int16_t* dst = packed.data.data() + j * N * K + k;
      const int32_t* zp = zero_points.data() + j * N;
      for (int64_t n = 0; n < N; ++n) dst[n * K] = static_cast<int16_t>(row[size_t(n)] - zp[n]);
    }
  return packed;
}

void integer_matmul(const Tensor& a, const std::vector<int32_t>& a_zero_points, const PackedIntB& b,
                    const MatMulShapes& s, const IntRowSink& sink) {
  const int64_t M = s.M, K = s.K, N = s.N;
  const int64_t blocks_per_matrix = (M + kRowBlock - 1) / kRowBlock;
  const int64_t blocks = static_cast<int64_t>(s.a_index.size()) * blocks_per_matrix;

  // Computes columns [n_begin, n_end) for one block of up to four rows of one output matrix.
  auto run_block = [&](int64_t block, int64_t n_begin, int64_t n_end, std::vector<int16_t>& rows,
                       std::vector<int32_t>& acc) {
    const int64_t matrix = block / blocks_per_matrix;
    const int64_t m0 = (block % blocks_per_matrix) * kRowBlock;
    const int64_t count = std::min(kRowBlock, M - m0);
    const int64_t ia = s.a_index[size_t(matrix)], ib = s.b_index[size_t(matrix)];
    const int16_t* row_ptr[kRowBlock];
    for (int64_t r = 0; r < kRowBlock; ++r) {
      const int64_t m = m0 + std::min(r, count - 1);  // short blocks repeat their last row
      row_ptr[r] = rows.data() + r * K;
      if (r < count)
        widen_row_i16(a.dtype(), a.raw(), (ia * M + m) * K, K, a_zero_points[size_t(ia * M + m)], rows.data() + r * K);
      else
        row_ptr[r] = row_ptr[count - 1];
    }
    const int64_t width = n_end - n_begin;
    int32_t out[kRowBlock];
    for (int64_t n = n_begin; n < n_end; ++n) {
      dot4_i16(row_ptr, b.column(ib, n), K, out);
      for (int64_t r = 0; r < count; ++r) acc[size_t(r * width + (n - n_begin))] = out[r];
    }
    for (int64_t r = 0; r < count; ++r) sink(matrix * M + m0 + r, n_begin, n_end, acc.data() + r * width);
  };

  // Chunks of at least ~64K multiply-adds, so small products stay on one thread.
  const int64_t block_work = std::max<int64_t>(kRowBlock * K * N, 1);
  const int threads = num_threads();
  if (blocks >= 2 * threads || N < 64) {
    parallel_for(blocks, std::max<int64_t>(1, 65536 / block_work), [&](int64_t begin, int64_t end) {
      std::vector<int16_t> rows(static_cast<size_t>(kRowBlock * K));
      std::vector<int32_t> acc(static_cast<size_t>(kRowBlock * N));
      for (int64_t block = begin; block < end; ++block) run_block(block, 0, N, rows, acc);
    });
    return;
  }
  // Few rows (a decoder step): split the columns instead.
  for (int64_t block = 0; block < blocks; ++block)
    parallel_for(N, std::max<int64_t>(32, 65536 / std::max<int64_t>(kRowBlock * K, 1)), [&](int64_t begin, int64_t end) {
      std::vector<int16_t> rows(static_cast<size_t>(kRowBlock * K));
      std::vector<int32_t> acc(static_cast<size_t>(kRowBlock * (end - begin)));
      run_block(block, begin, end, rows, acc);
    });
}

}  // namespace ember::runtime
