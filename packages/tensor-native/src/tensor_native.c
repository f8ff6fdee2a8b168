/*
 * @hicra/tensor-native: a Node-API addon exposing OpenBLAS's single-precision GEMM to the
 * hicra tensor core. Every function works on Float32Arrays in place (no copies): the caller
 * passes views of its tensors' storage (a WASM heap or JS typed arrays) and an output view.
 *
 * Built by scripts/build.mjs against Node's own headers, linking OpenBLAS statically.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

/* From OpenBLAS (openblas_config.h / cblas.h of the pthread build). */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

#define CHECK(env, call)                                                        \
  do {                                                                          \
    if ((call) != napi_ok) {                                                    \
      napi_throw_error((env), "HICRA_NATIVE", "Node-API call failed: " #call); \
      return NULL;                                                              \
    }                                                                           \
  } while (0)

static int read_f32(napi_env env, napi_value value, const char *name, float **data,
                    size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a Float32Array", name);
    napi_throw_type_error(env, "HICRA_NATIVE", message);
    return 0;
  }
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a Float32Array", name);
    napi_throw_type_error(env, "HICRA_NATIVE", message);
    return 0;
  }
  *data = (float *)raw;
  return 1;
}

static int read_int(napi_env env, napi_value value, const char *name, int64_t *out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok || number != (double)(int64_t)number ||
      number < 0 || number > 2147483647.0) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a non-negative 32-bit integer", name);
    napi_throw_range_error(env, "HICRA_NATIVE", message);
    return 0;
  }
  *out = (int64_t)number;
  return 1;
}

/*
 * matmul(a, b, out, batch, strideA, strideB, m, n, k, transposeA, transposeB)
 *
 * For each i < batch: out[i] (m x n, row-major) = op(a[i]) . op(b[i]) where a[i] starts at
 * i * strideA (0 broadcasts one matrix over the batch), op(a) is m x k (stored k x m when
 * transposed), op(b) is k x n (stored n x k when transposed).
 */
static napi_value matmul(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11) {
    napi_throw_type_error(env, "HICRA_NATIVE",
                          "matmul takes (a, b, out, batch, strideA, strideB, m, n, k, "
                          "transposeA, transposeB)");
    return NULL;
  }
  float *a, *b, *out;
  size_t a_len, b_len, out_len;
  if (!read_f32(env, argv[0], "a", &a, &a_len) || !read_f32(env, argv[1], "b", &b, &b_len) ||
      !read_f32(env, argv[2], "out", &out, &out_len))
    return NULL;
  int64_t batch, stride_a, stride_b, m, n, k;
  if (!read_int(env, argv[3], "batch", &batch) || !read_int(env, argv[4], "strideA", &stride_a) ||
      !read_int(env, argv[5], "strideB", &stride_b) || !read_int(env, argv[6], "m", &m) ||
      !read_int(env, argv[7], "n", &n) || !read_int(env, argv[8], "k", &k))
    return NULL;
  bool trans_a = false, trans_b = false;
  CHECK(env, napi_get_value_bool(env, argv[9], &trans_a));
  CHECK(env, napi_get_value_bool(env, argv[10], &trans_b));
  if (batch == 0 || m == 0 || n == 0) return NULL;
  /* Bounds: every matrix read or written lies inside its array. */
  int64_t last = batch - 1;
  if ((uint64_t)(last * stride_a + m * k) > a_len || (uint64_t)(last * stride_b + k * n) > b_len ||
      (uint64_t)(batch * m * n) > out_len) {
    char message[256];
    snprintf(message, sizeof message,
             "matmul: arrays too short for batch %lld of %lldx%lld . %lldx%lld "
             "(a %zu, b %zu, out %zu elements)",
             (long long)batch, (long long)m, (long long)k, (long long)k, (long long)n, a_len,
             b_len, out_len);
    napi_throw_range_error(env, "HICRA_NATIVE", message);
    return NULL;
  }
  if (k == 0) {
    memset(out, 0, (size_t)(batch * m * n) * sizeof(float));
    return NULL;
  }
  const int lda = trans_a ? (int)m : (int)k;
  const int ldb = trans_b ? (int)k : (int)n;
  const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  if (!trans_a && stride_b == 0 && batch > 1 && stride_a == m * k) {
    /* One shared right operand: the batch is one tall matrix (a linear layer). */
    cblas_sgemm(CblasRowMajor, ta, tb, (int)(batch * m), (int)n, (int)k, 1.0f, a, lda, b, ldb,
                0.0f, out, (int)n);
    return NULL;
  }
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0f, a + i * stride_a, lda,
                b + i * stride_b, ldb, 0.0f, out + i * m * n, (int)n);
  }
  return NULL;
}

void hicra_tanh(const float *x, float *y, size_t n);
void hicra_softmax(const float *x, float *y, size_t rows, size_t cols);
void hicra_exp(const float *x, float *y, size_t n);

/* exp(x, out): out[i] = exp(x[i]) for i < x.length; out may be x. */
static napi_value exp_f32(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *out;
  size_t x_len, out_len;
  if (argc != 2 || !read_f32(env, argv[0], "x", &x, &x_len) ||
      !read_f32(env, argv[1], "out", &out, &out_len))
    return NULL;
  if (out_len < x_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "exp: out is shorter than x");
    return NULL;
  }
  hicra_exp(x, out, x_len);
  return NULL;
}

/* softmax(x, out, rows, cols): softmax of each row of a rows x cols matrix. */
static napi_value softmax_f32(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) {
    napi_throw_type_error(env, "HICRA_NATIVE", "softmax takes (x, out, rows, cols)");
    return NULL;
  }
  float *x, *out;
  size_t x_len, out_len;
  int64_t rows, cols;
  if (!read_f32(env, argv[0], "x", &x, &x_len) || !read_f32(env, argv[1], "out", &out, &out_len) ||
      !read_int(env, argv[2], "rows", &rows) || !read_int(env, argv[3], "cols", &cols))
    return NULL;
  if ((uint64_t)(rows * cols) > x_len || (uint64_t)(rows * cols) > out_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "softmax: x or out is shorter than rows * cols");
    return NULL;
  }
  if (cols > 0) hicra_softmax(x, out, (size_t)rows, (size_t)cols);
  return NULL;
}

/*
 * copyBlocks(src, dst, outer, block, srcStride, dstStride): for o < outer, copies `block`
 * elements from src[o * srcStride] to dst[o * dstStride]. Bit-exact (memcpy): any 4-byte
 * dtype may pass through Float32Array views. Split and concatenation along an axis.
 */
static napi_value copy_blocks(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, "HICRA_NATIVE",
                          "copyBlocks takes (src, dst, outer, block, srcStride, dstStride)");
    return NULL;
  }
  float *src, *dst;
  size_t src_len, dst_len;
  int64_t outer, block, src_stride, dst_stride;
  if (!read_f32(env, argv[0], "src", &src, &src_len) ||
      !read_f32(env, argv[1], "dst", &dst, &dst_len) || !read_int(env, argv[2], "outer", &outer) ||
      !read_int(env, argv[3], "block", &block) ||
      !read_int(env, argv[4], "srcStride", &src_stride) ||
      !read_int(env, argv[5], "dstStride", &dst_stride))
    return NULL;
  if (outer == 0 || block == 0) return NULL;
  if ((uint64_t)((outer - 1) * src_stride + block) > src_len ||
      (uint64_t)((outer - 1) * dst_stride + block) > dst_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "copyBlocks: src or dst is too short");
    return NULL;
  }
  for (int64_t o = 0; o < outer; o++)
    memcpy(dst + o * dst_stride, src + o * src_stride, (size_t)block * sizeof(float));
  return NULL;
}

/*
 * transpose(x, out, shape, perm): out = x with axes permuted (out axis i is x axis perm[i]),
 * rank 1 to 8, any 4-byte dtype (bit-exact copies). shape and perm are Int32Arrays.
 */
static napi_value transpose_4b(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) {
    napi_throw_type_error(env, "HICRA_NATIVE", "transpose takes (x, out, shape, perm)");
    return NULL;
  }
  float *x, *out;
  size_t x_len, out_len;
  if (!read_f32(env, argv[0], "x", &x, &x_len) || !read_f32(env, argv[1], "out", &out, &out_len))
    return NULL;
  int32_t *shape = NULL, *perm = NULL;
  size_t rank = 0, perm_len = 0;
  napi_typedarray_type type1, type2;
  void *raw1 = NULL, *raw2 = NULL;
  if (napi_get_typedarray_info(env, argv[2], &type1, &rank, &raw1, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &type2, &perm_len, &raw2, NULL, NULL) != napi_ok ||
      type1 != napi_int32_array || type2 != napi_int32_array || rank != perm_len || rank < 1 ||
      rank > 8) {
    napi_throw_type_error(env, "HICRA_NATIVE",
                          "transpose: shape and perm must be Int32Arrays of one rank from 1 to 8");
    return NULL;
  }
  shape = (int32_t *)raw1;
  perm = (int32_t *)raw2;
  int64_t in_stride[8], out_shape[8], src_stride[8];
  int64_t size = 1;
  int seen = 0;
  for (int i = (int)rank - 1; i >= 0; i--) {
    if (shape[i] < 0) {
      napi_throw_range_error(env, "HICRA_NATIVE", "transpose: negative dimension");
      return NULL;
    }
    in_stride[i] = size;
    size *= shape[i];
  }
  for (size_t i = 0; i < rank; i++) {
    if (perm[i] < 0 || perm[i] >= (int32_t)rank || (seen & (1 << perm[i]))) {
      napi_throw_range_error(env, "HICRA_NATIVE", "transpose: perm is not a permutation");
      return NULL;
    }
    seen |= 1 << perm[i];
    out_shape[i] = shape[perm[i]];
    src_stride[i] = in_stride[perm[i]];
  }
  if ((uint64_t)size > x_len || (uint64_t)size > out_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "transpose: x or out is too short");
    return NULL;
  }
  if (size == 0) return NULL;
  /* A batch of matrix transposes (leading axes kept, the last two swapped): 32 x 32 tiles, so
   * both sides are read and written a cache line at a time. */
  int swap_last = rank >= 2 && perm[rank - 1] == (int32_t)rank - 2 &&
                  perm[rank - 2] == (int32_t)rank - 1;
  for (size_t i = 0; swap_last && i + 2 < rank; i++) swap_last = perm[i] == (int32_t)i;
  if (swap_last) {
    const int64_t rows = shape[rank - 2], cols = shape[rank - 1];
    const int64_t batch = size / (rows * cols);
    const uint32_t *in = (const uint32_t *)x;
    uint32_t *to = (uint32_t *)out;
    for (int64_t b = 0; b < batch; b++) {
      const uint32_t *src = in + b * rows * cols;
      uint32_t *dst = to + b * rows * cols;
      for (int64_t i0 = 0; i0 < rows; i0 += 32)
        for (int64_t j0 = 0; j0 < cols; j0 += 32) {
          const int64_t i1 = i0 + 32 < rows ? i0 + 32 : rows;
          const int64_t j1 = j0 + 32 < cols ? j0 + 32 : cols;
          for (int64_t j = j0; j < j1; j++)
            for (int64_t i = i0; i < i1; i++) dst[j * rows + i] = src[i * cols + j];
        }
    }
    return NULL;
  }
  /* Walk the output in order; the last output axis is the inner loop. */
  int64_t index[8] = {0};
  const int last = (int)rank - 1;
  const int64_t inner = out_shape[last], inner_stride = src_stride[last];
  /* 32-bit words, not floats: int32 data passes through bit for bit. */
  uint32_t *dst = (uint32_t *)out;
  const uint32_t *words = (const uint32_t *)x;
  int64_t base = 0;
  for (;;) {
    const uint32_t *src = words + base;
    if (inner_stride == 1) {
      memcpy(dst, src, (size_t)inner * sizeof(uint32_t));
    } else {
      for (int64_t j = 0; j < inner; j++) dst[j] = src[j * inner_stride];
    }
    dst += inner;
    int axis = last - 1;
    while (axis >= 0) {
      index[axis]++;
      base += src_stride[axis];
      if (index[axis] < out_shape[axis]) break;
      base -= src_stride[axis] * out_shape[axis];
      index[axis] = 0;
      axis--;
    }
    if (axis < 0) break;
  }
  return NULL;
}

/* tanh(x, out): out[i] = tanh(x[i]) for i < x.length; out may be x. */
static napi_value tanh_f32(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 2) {
    napi_throw_type_error(env, "HICRA_NATIVE", "tanh takes (x, out)");
    return NULL;
  }
  float *x, *out;
  size_t x_len, out_len;
  if (!read_f32(env, argv[0], "x", &x, &x_len) || !read_f32(env, argv[1], "out", &out, &out_len))
    return NULL;
  if (out_len < x_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "tanh: out is shorter than x");
    return NULL;
  }
  hicra_tanh(x, out, x_len);
  return NULL;
}

/*
 * binary(op, a, b, out, shape, stridesA, stridesB): out = a (op) b elementwise over the output
 * `shape` (rank 1 to 8), where a and b are read through strides (0 on a broadcast axis).
 * op: 0 add, 1 subtract, 2 multiply, 3 divide. Plain IEEE single-precision arithmetic, the
 * same as WASM's, so results are bit-identical to the WASM kernels'.
 */
#define BINARY_LOOP(EXPR)                                                            \
  do {                                                                               \
    if (sa == 1 && sb == 1)                                                          \
      for (int64_t j = 0; j < inner; j++) { float x = pa[j], y = pb[j]; dst[j] = EXPR; } \
    else if (sa == 1 && sb == 0)                                                     \
      for (int64_t j = 0; j < inner; j++) { float x = pa[j], y = pb[0]; dst[j] = EXPR; } \
    else if (sa == 0 && sb == 1)                                                     \
      for (int64_t j = 0; j < inner; j++) { float x = pa[0], y = pb[j]; dst[j] = EXPR; } \
    else                                                                             \
      for (int64_t j = 0; j < inner; j++) {                                          \
        float x = pa[j * sa], y = pb[j * sb];                                        \
        dst[j] = EXPR;                                                               \
      }                                                                              \
  } while (0)

static int read_i32s(napi_env env, napi_value value, const char *name, int32_t **data,
                     size_t *length) {
  napi_typedarray_type type;
  void *raw = NULL;
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    char message[128];
    snprintf(message, sizeof message, "%s must be an Int32Array", name);
    napi_throw_type_error(env, "HICRA_NATIVE", message);
    return 0;
  }
  *data = (int32_t *)raw;
  return 1;
}

__attribute__((optimize("O3"))) static napi_value binary(napi_env env,
                                                          napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) {
    napi_throw_type_error(env, "HICRA_NATIVE",
                          "binary takes (op, a, b, out, shape, stridesA, stridesB)");
    return NULL;
  }
  int64_t op;
  float *a, *b, *out;
  size_t a_len, b_len, out_len, rank, rank_a, rank_b;
  int32_t *shape, *stride_a, *stride_b;
  if (!read_int(env, argv[0], "op", &op) || !read_f32(env, argv[1], "a", &a, &a_len) ||
      !read_f32(env, argv[2], "b", &b, &b_len) || !read_f32(env, argv[3], "out", &out, &out_len) ||
      !read_i32s(env, argv[4], "shape", &shape, &rank) ||
      !read_i32s(env, argv[5], "stridesA", &stride_a, &rank_a) ||
      !read_i32s(env, argv[6], "stridesB", &stride_b, &rank_b))
    return NULL;
  if (op > 3 || rank < 1 || rank > 8 || rank_a != rank || rank_b != rank) {
    napi_throw_range_error(env, "HICRA_NATIVE",
                           "binary: op must be 0-3 and shape, stridesA, stridesB one rank (1-8)");
    return NULL;
  }
  /* Bounds: the largest offset each operand reaches, and the output size. */
  int64_t size = 1, last_a = 0, last_b = 0;
  for (size_t i = 0; i < rank; i++) {
    if (shape[i] < 0 || stride_a[i] < 0 || stride_b[i] < 0) {
      napi_throw_range_error(env, "HICRA_NATIVE", "binary: negative dimension or stride");
      return NULL;
    }
    size *= shape[i];
    if (shape[i] > 0) {
      last_a += (int64_t)(shape[i] - 1) * stride_a[i];
      last_b += (int64_t)(shape[i] - 1) * stride_b[i];
    }
  }
  if (size == 0) return NULL;
  if ((uint64_t)last_a >= a_len || (uint64_t)last_b >= b_len || (uint64_t)size > out_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "binary: a, b or out is too short");
    return NULL;
  }
  int64_t index[8] = {0};
  const int last = (int)rank - 1;
  const int64_t inner = shape[last], sa = stride_a[last], sb = stride_b[last];
  float *dst = out;
  int64_t base_a = 0, base_b = 0;
  for (;;) {
    const float *pa = a + base_a, *pb = b + base_b;
    switch (op) {
      case 0: BINARY_LOOP(x + y); break;
      case 1: BINARY_LOOP(x - y); break;
      case 2: BINARY_LOOP(x * y); break;
      default: BINARY_LOOP(x / y); break;
    }
    dst += inner;
    int axis = last - 1;
    while (axis >= 0) {
      index[axis]++;
      base_a += stride_a[axis];
      base_b += stride_b[axis];
      if (index[axis] < shape[axis]) break;
      base_a -= (int64_t)stride_a[axis] * shape[axis];
      base_b -= (int64_t)stride_b[axis] * shape[axis];
      index[axis] = 0;
      axis--;
    }
    if (axis < 0) break;
  }
  return NULL;
}

/*
 * gather(x, indices, out, outer, axisSize, inner): x is [outer, axisSize, inner] (4-byte
 * words), indices an Int32Array of n values in [0, axisSize); out[o, i, :] = x[o, indices[i], :].
 * Every index is checked before anything is written.
 */
static napi_value gather(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, "HICRA_NATIVE",
                          "gather takes (x, indices, out, outer, axisSize, inner)");
    return NULL;
  }
  float *x, *out;
  int32_t *indices;
  size_t x_len, out_len, n;
  int64_t outer, axis_size, inner;
  if (!read_f32(env, argv[0], "x", &x, &x_len) ||
      !read_i32s(env, argv[1], "indices", &indices, &n) ||
      !read_f32(env, argv[2], "out", &out, &out_len) || !read_int(env, argv[3], "outer", &outer) ||
      !read_int(env, argv[4], "axisSize", &axis_size) || !read_int(env, argv[5], "inner", &inner))
    return NULL;
  if ((uint64_t)(outer * axis_size * inner) > x_len ||
      (uint64_t)(outer * (int64_t)n * inner) > out_len) {
    napi_throw_range_error(env, "HICRA_NATIVE", "gather: x or out is too short");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (indices[i] < 0 || indices[i] >= axis_size) {
      char message[160];
      snprintf(message, sizeof message, "GatherV2: the index value %d is not in [0, %lld]",
               indices[i], (long long)axis_size - 1);
      napi_throw_range_error(env, "HICRA_NATIVE", message);
      return NULL;
    }
  }
  uint32_t *dst = (uint32_t *)out;
  const uint32_t *src = (const uint32_t *)x;
  for (int64_t o = 0; o < outer; o++) {
    const uint32_t *block = src + o * axis_size * inner;
    for (size_t i = 0; i < n; i++) {
      memcpy(dst, block + (int64_t)indices[i] * inner, (size_t)inner * sizeof(uint32_t));
      dst += inner;
    }
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t threads;
  if (argc != 1 || !read_int(env, argv[0], "threads", &threads)) return NULL;
  if (threads < 1) {
    napi_throw_range_error(env, "HICRA_NATIVE", "threads must be at least 1");
    return NULL;
  }
  openblas_set_num_threads((int)threads);
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &result));
  return result;
}

static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, config, core;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(env, napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core));
  CHECK(env, napi_set_named_property(env, result, "config", config));
  CHECK(env, napi_set_named_property(env, result, "core", core));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"matmul", NULL, matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tanh", NULL, tanh_f32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, binary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"exp", NULL, exp_f32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gather", NULL, gather, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmax", NULL, softmax_f32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyBlocks", NULL, copy_blocks, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transpose", NULL, transpose_4b, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasInfo", NULL, blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0],
                                    properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
