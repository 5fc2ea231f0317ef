// MatMul and Gemm kernels against naive loops, at odd sizes, with broadcasting, with
// constant (prepacked) and non-constant weights, and with malformed shapes.
#include <doctest/doctest.h>

#include "tests/unit/runtime/conv_test_util.h"

using namespace ember;
using namespace ember::conv_test;

namespace {

// Naive numpy matmul for A [..., M, K] x B [..., K, N] (both at least 2-D), broadcasting batches.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, Shape* out_shape) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  Shape batch(rank, 1);
  auto dim_of = [&](const Shape& s, size_t axis) {  // batch axis `axis` of the right-aligned shape
    const size_t offset = rank - (s.size() - 2);
    return axis < offset ? int64_t{1} : s[axis - offset];
  };
  for (size_t i = 0; i < rank; ++i) batch[i] = std::max(dim_of(as, i), dim_of(bs, i));
  *out_shape = batch;
  out_shape->push_back(M);
  out_shape->push_back(N);
  const auto av = a.to_floats().value(), bv = b.to_floats().value();
  std::vector<double> out;
  std::vector<int64_t> index(rank, 0);
  for (int64_t batch_index = 0; batch_index < shape_numel(batch); ++batch_index) {
    int64_t rest = batch_index, a_off = 0, b_off = 0, a_mul = 1, b_mul = 1;
    for (size_t i = rank; i-- > 0;) {
      const int64_t idx = rest % batch[i];
      rest /= batch[i];
      a_off += (dim_of(as, i) == 1 ? 0 : idx) * a_mul;
      b_off += (dim_of(bs, i) == 1 ? 0 : idx) * b_mul;
      a_mul *= dim_of(as, i);
      b_mul *= dim_of(bs, i);
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k)
          sum += static_cast<double>(av[static_cast<size_t>(a_off * M * K + m * K + k)]) *
                 bv[static_cast<size_t>(b_off * K * N + k * N + n)];
        out.push_back(sum);
      }
  }
  return out;
}

}  // namespace

TEST_CASE("MatMul matches the naive product at odd sizes, with and without packed B") {
  const ir::Node node = make_node("MatMul", 2, 1);
  for (int64_t M : {1, 3, 17, 129})
    for (int64_t K : {1, 31, 129})
      for (int64_t N : {1, 17, 31}) {
        const Tensor a = random_tensor({M, K}, 1), b = random_tensor({K, N}, 2);
        Shape shape;
        const auto expected = naive_matmul(a, b, &shape);
        for (bool constant : {false, true}) {
          INFO("M=" << M << " K=" << K << " N=" << N << " constant=" << constant);
          check_close(run_op(node, 13, {a, b}, constant)[0], shape, expected, 1e-4, 1e-4);
        }
      }
}

TEST_CASE("MatMul broadcasts batch axes and promotes 1-D operands") {
  const ir::Node node = make_node("MatMul", 2, 1);
  struct Case { Shape a, b; };
  for (const Case& c : {Case{{2, 1, 3, 5}, {4, 5, 7}}, Case{{3, 5}, {2, 5, 4}}, Case{{2, 3, 17}, {17, 31}},
                        Case{{1, 6, 9, 8}, {1, 6, 8, 9}}, Case{{2, 3, 4}, {1, 4, 2}}}) {
    const Tensor a = random_tensor(c.a, 3), b = random_tensor(c.b, 4);
    Shape shape;
    const auto expected = naive_matmul(a, b, &shape);
    for (bool constant : {false, true}) {
      INFO(shape_to_string(c.a) << " x " << shape_to_string(c.b) << " constant=" << constant);
      check_close(run_op(node, 13, {a, b}, constant)[0], shape, expected);
    }
  }
  // 1-D operands: [K] x [K] is a scalar, [K] x [..., K, N] drops M, [..., M, K] x [K] drops N.
  const Tensor v = Tensor::from_vector<float>({3}, {1, 2, 3});
  const Tensor m = Tensor::from_vector<float>({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  check_close(run_op(node, 13, {v, v}, false)[0], {}, {14});
  check_close(run_op(node, 13, {v, m}, false)[0], {2, 2}, {22, 28, 58, 64});
  check_close(run_op(node, 13, {Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), v}, true)[0], {2}, {14, 32});
  check_close(run_op(node, 13, {m.reshaped({2, 2, 3}), v}, false)[0], {2, 2}, {14, 32, 50, 68});
}

TEST_CASE("MatMul on integer and double operands") {
  const ir::Node node = make_node("MatMul", 2, 1);
  const Tensor a64 = Tensor::from_vector<int64_t>({2, 3}, {1, -2, 3, 4, 5, -6});
  const Tensor b64 = Tensor::from_vector<int64_t>({3, 2}, {7, 8, 9, 10, 11, 12});
  const auto y64 = run_op(node, 13, {a64, b64}, false)[0];
  REQUIRE(y64.dtype() == DType::kI64);
  CHECK(std::vector<int64_t>(y64.data<int64_t>(), y64.data<int64_t>() + 4) == std::vector<int64_t>{22, 24, 7, 10});
  const Tensor a32 = Tensor::from_vector<int32_t>({1, 2}, {3, -4});
  const Tensor b32 = Tensor::from_vector<int32_t>({2, 1}, {5, 6});
  CHECK(run_op(node, 13, {a32, b32}, false)[0].data<int32_t>()[0] == -9);
  const Tensor ad = Tensor::from_vector<double>({1, 2}, {0.5, 0.25});
  const Tensor bd = Tensor::from_vector<double>({2, 2}, {2, 4, 8, 16});
  const auto yd = run_op(node, 13, {ad, bd}, true)[0];
  CHECK(yd.data<double>()[0] == 3.0);
  CHECK(yd.data<double>()[1] == 6.0);
}

TEST_CASE("MatMul rejects mismatched shapes and types, naming the node") {
  const ir::Node node = make_node("MatMul", 2, 1);
  auto bad = runtime::run_single_op(node, 13, {random_tensor({2, 3}, 1), random_tensor({4, 5}, 2)});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidInput);
  CHECK(bad.status().message().find("'n1'") != std::string::npos);
  auto batch = runtime::run_single_op(node, 13, {random_tensor({2, 3, 4}, 1), random_tensor({3, 4, 5}, 2)});
  CHECK(batch.status().code() == StatusCode::kInvalidInput);
  auto types = runtime::run_single_op(node, 13, {random_tensor({2, 3}, 1), Tensor::from_vector<double>({3, 1}, {1, 2, 3})});
  CHECK(types.status().code() == StatusCode::kInvalidInput);
}

namespace {

// Naive Gemm: alpha * op(A) * op(B) + beta * C with C broadcast from [rows, cols].
std::vector<double> naive_gemm(const Tensor& a, const Tensor& b, const Tensor* c, bool ta, bool tb, double alpha,
                               double beta, int64_t M, int64_t N, int64_t K) {
  const auto av = a.to_floats().value(), bv = b.to_floats().value();
  std::vector<float> cv;
  int64_t c_rows = 1, c_cols = 1;
  if (c) {
    cv = c->to_floats().value();
    if (c->rank() == 2) c_rows = c->dim(0);
    if (c->rank() >= 1) c_cols = c->shape().back();
  }
  std::vector<double> out;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double sum = 0;
      for (int64_t k = 0; k < K; ++k)
        sum += static_cast<double>(av[static_cast<size_t>(ta ? k * M + m : m * K + k)]) *
               bv[static_cast<size_t>(tb ? n * K + k : k * N + n)];
      double value = alpha * sum;
      if (c) value += beta * cv[static_cast<size_t>((c_rows == 1 ? 0 : m) * c_cols + (c_cols == 1 ? 0 : n))];
      out.push_back(value);
    }
  return out;
}

}  // namespace

TEST_CASE("Gemm covers transposes, alpha, beta and every broadcast form of C") {
  const int64_t M = 17, N = 31, K = 33;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& c_shape : {Shape{}, Shape{1}, Shape{N}, Shape{1, N}, Shape{M, 1}, Shape{M, N}})
        for (float alpha : {1.0f, 0.5f})
          for (float beta : {1.0f, -2.0f}) {
            const ir::Node node = make_node("Gemm", 3, 1,
                                            {int_attr("transA", ta), int_attr("transB", tb), float_attr("alpha", alpha),
                                             float_attr("beta", beta)});
            const Tensor a = random_tensor(ta ? Shape{K, M} : Shape{M, K}, 5);
            const Tensor b = random_tensor(tb ? Shape{N, K} : Shape{K, N}, 6);
            const Tensor c = random_tensor(c_shape, 7);
            const auto expected = naive_gemm(a, b, &c, ta, tb, alpha, beta, M, N, K);
            for (bool constant : {false, true}) {
              INFO("transA=" << ta << " transB=" << tb << " C=" << shape_to_string(c_shape) << " alpha=" << alpha
                             << " beta=" << beta << " constant=" << constant);
              check_close(run_op(node, 13, {a, b, c}, constant)[0], {M, N}, expected);
            }
          }
}

TEST_CASE("Gemm without C, with beta 0, and on doubles") {
  const int64_t M = 3, N = 129, K = 17;
  const Tensor a = random_tensor({M, K}, 8), b = random_tensor({N, K}, 9);
  const ir::Node no_c = make_node("Gemm", 3, 1, {int_attr("transB", 1)}, {2});
  const auto expected = naive_gemm(a, b, nullptr, false, true, 1.0, 0.0, M, N, K);
  for (bool constant : {false, true}) check_close(run_op(no_c, 13, {a, b, Tensor()}, constant)[0], {M, N}, expected);
  // beta == 0 ignores C entirely, even when C holds NaN.
  const ir::Node zero_beta = make_node("Gemm", 3, 1, {int_attr("transB", 1), float_attr("beta", 0.0f)});
  const Tensor nan_c = Tensor::from_vector<float>({N}, std::vector<float>(static_cast<size_t>(N), NAN));
  for (bool constant : {false, true}) check_close(run_op(zero_beta, 13, {a, b, nan_c}, constant)[0], {M, N}, expected);

  const ir::Node node = make_node("Gemm", 3, 1, {float_attr("alpha", 2.0f)});
  const Tensor ad = Tensor::from_vector<double>({1, 2}, {1, 2});
  const Tensor bd = Tensor::from_vector<double>({2, 1}, {3, 4});
  const Tensor cd = Tensor::from_vector<double>({1}, {0.5});
  CHECK(run_op(node, 13, {ad, bd, cd}, false)[0].data<double>()[0] == 22.5);
}

TEST_CASE("Gemm needs C before opset 11 and rejects bad shapes, naming the node") {
  const ir::Node no_c = make_node("Gemm", 2, 1);
  const Tensor a = random_tensor({2, 3}, 1), b = random_tensor({3, 4}, 2);
  CHECK(runtime::run_single_op(no_c, 9, {a, b}).status().code() == StatusCode::kInvalidInput);
  CHECK(runtime::run_single_op(no_c, 11, {a, b}).ok());

  const ir::Node node = make_node("Gemm", 3, 1);
  auto inner = runtime::run_single_op(node, 13, {a, random_tensor({4, 4}, 2), random_tensor({4}, 3)});
  REQUIRE_FALSE(inner.ok());
  CHECK(inner.status().code() == StatusCode::kInvalidInput);
  CHECK(inner.status().message().find("'n1'") != std::string::npos);
  auto c_shape = runtime::run_single_op(node, 13, {a, b, random_tensor({3, 4}, 3)});
  CHECK(c_shape.status().code() == StatusCode::kInvalidInput);
  auto rank = runtime::run_single_op(node, 13, {random_tensor({1, 2, 3}, 1), b, random_tensor({4}, 3)});
  CHECK(rank.status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("MatMul and Gemm accept f16 and bf16 by widening to f32") {
  const std::vector<float> a{1, 2, 3, 4, 5, 6}, b{0.5f, -1, 2, 0.25f, -3, 1};
  for (DType d : {DType::kF16, DType::kBF16}) {
    const auto y = run_op(make_node("MatMul", 2, 1), 13, {half_tensor({2, 3}, a, d), half_tensor({3, 2}, b, d)}, true)[0];
    CHECK(y.dtype() == d);
    check_close(y, {2, 2}, {-4.5, 2.5, -6, 3.25});
    const auto g = run_op(make_node("Gemm", 3, 1, {int_attr("transA", 1)}), 13,
                          {half_tensor({3, 2}, a, d), half_tensor({3, 2}, b, d), half_tensor({2}, {1, 2}, d)}, false)[0];
    CHECK(g.dtype() == d);
    check_close(g, {2, 2}, {1 * 0.5 + 3 * 2 + 5 * -3 + 1, -1 + 3 * 0.25 + 5 + 2, 2 * 0.5 + 4 * 2 + 6 * -3 + 1, -2 + 1 + 6 + 2});
  }
}
