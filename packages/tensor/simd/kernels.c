// WASM SIMD kernels for @hicra/tensor's host-memory ops on the WASM backend (and `native`,
// which shares its heap). Built by scripts/build-simd.mjs with clang into src/simd/binary.ts.
//
// The module imports the WASM backend's own linear memory and works on tensors where they
// lie, so every pointer below is a byte offset into that heap. Because the memory belongs to
// tfjs, the module must own no part of it: no static data (no data segment: constant tables
// would be written over tfjs's own data at instantiation) and no stack (clang's shadow stack
// would live at a fixed address in tfjs's memory). Every function is a leaf with scalar and
// v128 locals only, and the build script refuses a binary with a data section or any
// global access. Scratch space, where a caller needs it, is allocated by the caller with the
// backend's own malloc.
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name))) __attribute__((visibility("default")))

// exp(x) for four float32 lanes: x = n·ln2 + r with |r| <= ln2/2, a degree-6 polynomial for
// e^r (Cephes' expf coefficients; relative error about 2 float32 ulp), and 2^n written into
// the exponent bits. n is rounded by adding 1.5·2^23 (the float's own rounding), which also
// leaves n + 127 in the low bits, so no float/int conversion is needed. x below -87.3 gives
// exactly 0 (float32 denormals are flushed), x above 88.37 is clamped (callers pass x <= 0),
// and NaN stays NaN (wasm's min and max propagate NaN, and NaN < c is false).
static inline v128_t exp4(v128_t x) {
  const v128_t lowest = wasm_f32x4_splat(-87.33654475f);
  const v128_t magic = wasm_f32x4_splat(12582912.0f);
  const v128_t underflow = wasm_f32x4_lt(x, lowest);
  x = wasm_f32x4_min(wasm_f32x4_max(x, lowest), wasm_f32x4_splat(88.37626266f));
  const v128_t shifted =
      wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), magic);
  const v128_t n = wasm_f32x4_sub(shifted, magic);
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_add(r, wasm_f32x4_mul(n, wasm_f32x4_splat(2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r),
                     wasm_f32x4_splat(1.0f));
  // The bits of `shifted` minus those of (1.5·2^23 - 127) are n + 127: 2^n's biased exponent.
  const v128_t scale =
      wasm_i32x4_shl(wasm_i32x4_sub(shifted, wasm_f32x4_splat(12582912.0f - 127.0f)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(p, scale), underflow);
}

// Four floats from row[j..j+count) with the missing lanes set to `fill` (count in 1..3), built
// lane by lane: a local array would need the stack, which this module must not touch.
static inline v128_t load_tail(const float* row, int j, int count, float fill) {
  return wasm_f32x4_make(row[j], count > 1 ? row[j + 1] : fill, count > 2 ? row[j + 2] : fill,
                         fill);
}

static inline double sum_f32x4_as_f64(v128_t lo, v128_t hi) {
  return (wasm_f64x2_extract_lane(lo, 0) + wasm_f64x2_extract_lane(lo, 1)) +
         (wasm_f64x2_extract_lane(hi, 0) + wasm_f64x2_extract_lane(hi, 1));
}

// Accumulates four float32 lanes into two float64x2 sums.
static inline void add_f64(v128_t* lo, v128_t* hi, v128_t v) {
  *lo = wasm_f64x2_add(*lo, wasm_f64x2_promote_low_f32x4(v));
  *hi = wasm_f64x2_add(*hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
}

// Row statistics of the log-softmax, per row of x [rows, cols]:
//   out[3i] = max, out[3i+1] = s = Σ exp(x - max), out[3i+2] = t = Σ exp(x - max)·(x - max),
// s and t summed in float64. A row with a NaN has max NaN; a row of only -Infinity has max
// -Infinity (s and t are then meaningless); the caller turns both into NaN statistics.
// An entry of -Infinity contributes 0 to s and t (its exp is 0; its shifted value is raised to
// the lowest float32 first, so 0·(x - max) is 0, not NaN).
EXPORT("softmax_row_stats")
void softmax_row_stats(const float* x, int rows, int cols, double* out) {
  const int body = cols & ~3;
  const v128_t lowest = wasm_f32x4_splat(-3.40282347e38f);
  for (int i = 0; i < rows; i++) {
    const float* row = x + (uintptr_t)i * (uintptr_t)cols;
    v128_t m = wasm_f32x4_splat(-__builtin_inff());
    for (int j = 0; j < body; j += 4) m = wasm_f32x4_max(m, wasm_v128_load(row + j));
    if (body < cols) m = wasm_f32x4_max(m, load_tail(row, body, cols - body, -__builtin_inff()));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    const float max = wasm_f32x4_extract_lane(m, 0);
    out[3 * i] = max;
    if (max != max || max == -__builtin_inff()) {
      out[3 * i + 1] = 0;
      out[3 * i + 2] = 0;
      continue;
    }
    v128_t s_lo = wasm_f64x2_splat(0), s_hi = s_lo, t_lo = s_lo, t_hi = s_lo;
    for (int j = 0; j < body; j += 4) {
      const v128_t d = wasm_f32x4_max(wasm_f32x4_sub(wasm_v128_load(row + j), m), lowest);
      const v128_t e = exp4(d);
      add_f64(&s_lo, &s_hi, e);
      add_f64(&t_lo, &t_hi, wasm_f32x4_mul(e, d));
    }
    if (body < cols) {
      // Missing lanes read as -Infinity: exp 0, contribution 0.
      const v128_t tail = load_tail(row, body, cols - body, -__builtin_inff());
      const v128_t d = wasm_f32x4_max(wasm_f32x4_sub(tail, m), lowest);
      const v128_t e = exp4(d);
      add_f64(&s_lo, &s_hi, e);
      add_f64(&t_lo, &t_hi, wasm_f32x4_mul(e, d));
    }
    out[3 * i + 1] = sum_f32x4_as_f64(s_lo, s_hi);
    out[3 * i + 2] = sum_f32x4_as_f64(t_lo, t_hi);
  }
}

// The gradient of the log-prob / entropy statistics with respect to x [rows, cols]:
//   out[i, j] = p·(a_i + b_i·log p), log p = (x[i, j] - max_i) - log s_i, p = exp(log p),
// with per-row coefficients coef[4i..4i+3] = (max_i, log s_i, a_i, b_i), float64 (rounded to
// float32 here). Shifting by the max first keeps large logits (±1000) precise: x - lse in
// float32 would lose ulp(lse). The caller folds the log-prob's gradient g and the entropy's
// gradient gH of entropy H in as a = -(g + gH·H), b = -gH, and adds g at the label
// afterwards. p = 0 (a -Infinity entry, or one far below the rest) gives exactly 0; a NaN
// coefficient gives NaN.
EXPORT("softmax_stats_grad")
void softmax_stats_grad(const float* x, int rows, int cols, const double* coef, float* out) {
  const int body = cols & ~3;
  const v128_t zero = wasm_f32x4_splat(0);
  for (int i = 0; i < rows; i++) {
    const float* row = x + (uintptr_t)i * (uintptr_t)cols;
    float* dst = out + (uintptr_t)i * (uintptr_t)cols;
    const v128_t max = wasm_f32x4_splat((float)coef[4 * i]);
    const v128_t log_s = wasm_f32x4_splat((float)coef[4 * i + 1]);
    const v128_t a = wasm_f32x4_splat((float)coef[4 * i + 2]);
    const v128_t b = wasm_f32x4_splat((float)coef[4 * i + 3]);
    for (int j = 0; j < body; j += 4) {
      const v128_t log_p = wasm_f32x4_sub(wasm_f32x4_sub(wasm_v128_load(row + j), max), log_s);
      const v128_t p = exp4(log_p);
      const v128_t g = wasm_f32x4_mul(p, wasm_f32x4_add(a, wasm_f32x4_mul(b, log_p)));
      wasm_v128_store(dst + j, wasm_v128_andnot(g, wasm_f32x4_eq(p, zero)));
    }
    for (int j = body; j < cols; j += 4) {
      const int count = cols - j;
      const v128_t log_p =
          wasm_f32x4_sub(wasm_f32x4_sub(load_tail(row, j, count, 0), max), log_s);
      const v128_t p = exp4(log_p);
      const v128_t g = wasm_v128_andnot(
          wasm_f32x4_mul(p, wasm_f32x4_add(a, wasm_f32x4_mul(b, log_p))), wasm_f32x4_eq(p, zero));
      dst[j] = wasm_f32x4_extract_lane(g, 0);
      if (count > 1) dst[j + 1] = wasm_f32x4_extract_lane(g, 1);
      if (count > 2) dst[j + 2] = wasm_f32x4_extract_lane(g, 2);
    }
  }
}

// Sums the four lanes of v.
static inline float lane_sum(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

// One decoding step of attention for one sequence: for each of its `heads` query heads,
//   out[h] = Σ_n softmax_n(scale·q[h]·k[c_n]) · v[c_n]
// over the cached columns c_n = columns[0..count) (the real tokens, the new one included).
// q and out are [heads, dim]; keys and values are this sequence's cache, [kvHeads, capacity,
// dim], head h reading kv head h / group. `weights` is caller-provided scratch of `count`
// floats (the module has no stack). count = 0 gives zeros.
EXPORT("decode_attention_row")
void decode_attention_row(const float* q, const float* keys, const float* values, float* out,
                          int heads, int group, int capacity, int dim, const int* columns,
                          int count, float scale, float* weights) {
  const int body = dim & ~3;
  for (int h = 0; h < heads; h++) {
    const float* qh = q + (uintptr_t)h * dim;
    float* oh = out + (uintptr_t)h * dim;
    const uintptr_t kv = (uintptr_t)(h / group) * (uintptr_t)capacity * (uintptr_t)dim;
    float max = -__builtin_inff();
    for (int n = 0; n < count; n++) {
      const float* k = keys + kv + (uintptr_t)columns[n] * dim;
      v128_t acc = wasm_f32x4_splat(0);
      for (int d = 0; d < body; d += 4)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(qh + d), wasm_v128_load(k + d)));
      float dot = lane_sum(acc);
      for (int d = body; d < dim; d++) dot += qh[d] * k[d];
      const float s = dot * scale;
      weights[n] = s;
      if (s > max) max = s;
    }
    const v128_t vmax = wasm_f32x4_splat(max);
    v128_t sums = wasm_f32x4_splat(0);
    int n = 0;
    for (; n + 4 <= count; n += 4) {
      const v128_t w = exp4(wasm_f32x4_sub(wasm_v128_load(weights + n), vmax));
      wasm_v128_store(weights + n, w);
      sums = wasm_f32x4_add(sums, w);
    }
    float sum = lane_sum(sums);
    if (n < count) {
      const v128_t w =
          exp4(wasm_f32x4_sub(load_tail(weights, n, count - n, -__builtin_inff()), vmax));
      weights[n] = wasm_f32x4_extract_lane(w, 0);
      if (count - n > 1) weights[n + 1] = wasm_f32x4_extract_lane(w, 1);
      if (count - n > 2) weights[n + 2] = wasm_f32x4_extract_lane(w, 2);
      sum += lane_sum(w);
    }
    for (int d = 0; d < dim; d++) oh[d] = 0;
    if (count == 0) continue;
    const float inverse = 1.0f / sum;
    for (int m = 0; m < count; m++) {
      const float* v = values + kv + (uintptr_t)columns[m] * dim;
      const float w = weights[m] * inverse;
      const v128_t vw = wasm_f32x4_splat(w);
      for (int d = 0; d < body; d += 4)
        wasm_v128_store(oh + d, wasm_f32x4_add(wasm_v128_load(oh + d),
                                               wasm_f32x4_mul(vw, wasm_v128_load(v + d))));
      for (int d = body; d < dim; d++) oh[d] += w * v[d];
    }
  }
}

// out[b, c, r] = in[b, r, c] for `batch` matrices of [rows, cols]: 4 × 4 blocks transposed in
// registers, walked in 32 × 32 tiles so that both the reads and the writes stay in cache.
EXPORT("transpose")
void transpose(const float* in, int batch, int rows, int cols, float* out) {
  const uintptr_t size = (uintptr_t)rows * (uintptr_t)cols;
  const int rows4 = rows & ~3, cols4 = cols & ~3;
  for (int n = 0; n < batch; n++) {
    const float* src = in + n * size;
    float* dst = out + n * size;
    for (int r0 = 0; r0 < rows4; r0 += 32) {
      const int r1 = r0 + 32 < rows4 ? r0 + 32 : rows4;
      for (int c0 = 0; c0 < cols4; c0 += 32) {
        const int c1 = c0 + 32 < cols4 ? c0 + 32 : cols4;
        for (int r = r0; r < r1; r += 4) {
          for (int c = c0; c < c1; c += 4) {
            const float* s = src + (uintptr_t)r * cols + c;
            const v128_t a = wasm_v128_load(s);
            const v128_t b = wasm_v128_load(s + cols);
            const v128_t cc = wasm_v128_load(s + 2 * cols);
            const v128_t d = wasm_v128_load(s + 3 * cols);
            const v128_t ab_lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);
            const v128_t ab_hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
            const v128_t cd_lo = wasm_i32x4_shuffle(cc, d, 0, 4, 1, 5);
            const v128_t cd_hi = wasm_i32x4_shuffle(cc, d, 2, 6, 3, 7);
            float* t = dst + (uintptr_t)c * rows + r;
            wasm_v128_store(t, wasm_i64x2_shuffle(ab_lo, cd_lo, 0, 2));
            wasm_v128_store(t + rows, wasm_i64x2_shuffle(ab_lo, cd_lo, 1, 3));
            wasm_v128_store(t + 2 * rows, wasm_i64x2_shuffle(ab_hi, cd_hi, 0, 2));
            wasm_v128_store(t + 3 * rows, wasm_i64x2_shuffle(ab_hi, cd_hi, 1, 3));
          }
        }
      }
    }
    // The edges: the last cols % 4 columns of every row, and the last rows % 4 rows.
    for (int r = 0; r < rows4; r++)
      for (int c = cols4; c < cols; c++) dst[(uintptr_t)c * rows + r] = src[(uintptr_t)r * cols + c];
    for (int r = rows4; r < rows; r++)
      for (int c = 0; c < cols; c++) dst[(uintptr_t)c * rows + r] = src[(uintptr_t)r * cols + c];
  }
}

// Σ x[0..n) in float32 lanes, the lanes added in float64.
static inline double sum_row(const float* x, int n) {
  const int body = n & ~3;
  v128_t acc = wasm_f32x4_splat(0);
  for (int k = 0; k < body; k += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(x + k));
  double sum = (double)wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) +
               wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
  for (int k = body; k < n; k++) sum += x[k];
  return sum;
}

// Σ (x - c)² over x[0..n), as sum_row.
static inline double sum_squares(const float* x, int n, float c) {
  const int body = n & ~3;
  const v128_t vc = wasm_f32x4_splat(c);
  v128_t acc = wasm_f32x4_splat(0);
  for (int k = 0; k < body; k += 4) {
    const v128_t d = wasm_f32x4_sub(wasm_v128_load(x + k), vc);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(d, d));
  }
  double sum = (double)wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) +
               wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
  for (int k = body; k < n; k++) sum += (double)(x[k] - c) * (x[k] - c);
  return sum;
}

// Layer normalisation of each row of x [rows, width]: out = (x - mean)·scale·w + b with
// scale = 1/√(var + eps) (biased variance). stats, when not null, receives (mean, scale) per
// row in float64 for the backward pass. With rms != 0 it is RMS normalisation instead: no
// mean is taken off, no bias is added (b is ignored), and stats receives (0, scale).
EXPORT("norm_forward")
void norm_forward(const float* x, const float* w, const float* b, float* out, int rows,
                  int width, double eps, int rms, double* stats) {
  const int body = width & ~3;
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (uintptr_t)r * width;
    float* o = out + (uintptr_t)r * width;
    const double mean = rms ? 0 : sum_row(xr, width) / width;
    const float mean32 = (float)mean;
    const double scale = 1 / __builtin_sqrt(sum_squares(xr, width, mean32) / width + eps);
    if (stats) {
      stats[2 * r] = mean;
      stats[2 * r + 1] = scale;
    }
    const v128_t vm = wasm_f32x4_splat(mean32);
    const v128_t vs = wasm_f32x4_splat((float)scale);
    for (int k = 0; k < body; k += 4) {
      v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + k), vm), vs),
                                wasm_v128_load(w + k));
      if (!rms) y = wasm_f32x4_add(y, wasm_v128_load(b + k));
      wasm_v128_store(o + k, y);
    }
    for (int k = body; k < width; k++) {
      const float y = (xr[k] - mean32) * (float)scale * w[k];
      o[k] = rms ? y : y + b[k];
    }
  }
}

// The backward pass of norm_forward, from x, w, the upstream gradient dy and the forward's
// stats: per row, with x̂ = (x - mean)·scale and g = dy·w,
//   dx = scale·(g - mean(g) - x̂·mean(g·x̂))      (RMS: scale·(g - x̂·mean(g·x̂)))
// and over the rows dw = Σ dy·x̂, db = Σ dy (RMS: no db; db may be null). acc is scratch of
// 2·width float64, where dw and db are summed before they are written as float32.
EXPORT("norm_backward")
void norm_backward(const float* x, const float* w, const float* dy, const double* stats,
                   int rows, int width, int rms, float* dx, float* dw, float* db, double* acc) {
  const int body = width & ~3;
  const int body2 = width & ~1;
  for (int k = 0; k < 2 * width; k++) acc[k] = 0;
  double* gw = acc;
  double* gb = acc + width;
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (uintptr_t)r * width;
    const float* dr = dy + (uintptr_t)r * width;
    float* out = dx + (uintptr_t)r * width;
    const v128_t vm = wasm_f32x4_splat((float)stats[2 * r]);
    const v128_t vs = wasm_f32x4_splat((float)stats[2 * r + 1]);
    v128_t sum_g = wasm_f32x4_splat(0);
    v128_t sum_gx = wasm_f32x4_splat(0);
    for (int k = 0; k < body; k += 4) {
      const v128_t xhat = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + k), vm), vs);
      const v128_t d = wasm_v128_load(dr + k);
      const v128_t g = wasm_f32x4_mul(d, wasm_v128_load(w + k));
      sum_g = wasm_f32x4_add(sum_g, g);
      sum_gx = wasm_f32x4_add(sum_gx, wasm_f32x4_mul(g, xhat));
    }
    double total_g = (double)lane_sum(sum_g);
    double total_gx = (double)lane_sum(sum_gx);
    for (int k = body; k < width; k++) {
      const float xhat = (xr[k] - (float)stats[2 * r]) * (float)stats[2 * r + 1];
      const float g = dr[k] * w[k];
      total_g += g;
      total_gx += g * xhat;
    }
    const v128_t mean_g = wasm_f32x4_splat(rms ? 0.0f : (float)(total_g / width));
    const v128_t mean_gx = wasm_f32x4_splat((float)(total_gx / width));
    for (int k = 0; k < body; k += 4) {
      const v128_t xhat = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + k), vm), vs);
      const v128_t d = wasm_v128_load(dr + k);
      const v128_t g = wasm_f32x4_mul(d, wasm_v128_load(w + k));
      wasm_v128_store(out + k, wasm_f32x4_mul(vs, wasm_f32x4_sub(wasm_f32x4_sub(g, mean_g),
                                                                 wasm_f32x4_mul(xhat, mean_gx))));
    }
    for (int k = body; k < width; k++) {
      const float xhat = (xr[k] - (float)stats[2 * r]) * (float)stats[2 * r + 1];
      const float g = dr[k] * w[k];
      out[k] = (float)stats[2 * r + 1] *
               (g - wasm_f32x4_extract_lane(mean_g, 0) - xhat * wasm_f32x4_extract_lane(mean_gx, 0));
    }
    // dw += dy·x̂ and db += dy, in float64 pairs.
    for (int k = 0; k < body2; k += 2) {
      const float x0 = (xr[k] - (float)stats[2 * r]) * (float)stats[2 * r + 1];
      const float x1 = (xr[k + 1] - (float)stats[2 * r]) * (float)stats[2 * r + 1];
      const v128_t d = wasm_f64x2_make(dr[k], dr[k + 1]);
      wasm_v128_store(gw + k, wasm_f64x2_add(wasm_v128_load(gw + k),
                                             wasm_f64x2_mul(d, wasm_f64x2_make(x0, x1))));
      wasm_v128_store(gb + k, wasm_f64x2_add(wasm_v128_load(gb + k), d));
    }
    for (int k = body2; k < width; k++) {
      gw[k] += (double)dr[k] * ((xr[k] - (float)stats[2 * r]) * (float)stats[2 * r + 1]);
      gb[k] += dr[k];
    }
  }
  for (int k = 0; k < width; k++) {
    dw[k] = (float)gw[k];
    if (db) db[k] = (float)gb[k];
  }
}

// The gradient of GELU's x·σ(2u), u = c·(x + a·x³), from x, the forward's s = σ(2u) and dy:
//   dx = dy·(s + 2·x·s·(1 - s)·c·(1 + 3a·x²)).
EXPORT("gelu_backward")
void gelu_backward(const float* x, const float* s, const float* dy, float* dx, int n, float c,
                   float a) {
  const int body = n & ~3;
  const v128_t one = wasm_f32x4_splat(1);
  const v128_t two_c = wasm_f32x4_splat(2 * c);
  const v128_t three_a = wasm_f32x4_splat(3 * a);
  for (int i = 0; i < body; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    const v128_t sg = wasm_v128_load(s + i);
    const v128_t inner = wasm_f32x4_add(one, wasm_f32x4_mul(three_a, wasm_f32x4_mul(v, v)));
    const v128_t slope = wasm_f32x4_add(
        sg, wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(v, sg), wasm_f32x4_sub(one, sg)),
                           wasm_f32x4_mul(two_c, inner)));
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), slope));
  }
  for (int i = body; i < n; i++) {
    const float v = x[i], sg = s[i];
    dx[i] = dy[i] * (sg + 2 * v * sg * (1 - sg) * c * (1 + 3 * a * v * v));
  }
}

// Copies `n` floats (dst and src do not overlap).
static inline void copy_floats(float* dst, const float* src, int n) {
  const int body = n & ~3;
  for (int k = 0; k < body; k += 4) wasm_v128_store(dst + k, wasm_v128_load(src + k));
  for (int k = body; k < n; k++) dst[k] = src[k];
}

// Attention heads between a projection [batch, length, width] (columns offset + h·dim + d)
// and [batch, count, length, dim]: to_heads 1 copies wide -> heads, 0 heads -> wide (the
// columns outside the heads are left as they are).
EXPORT("copy_heads")
void copy_heads(float* wide, float* heads, int batch, int length, int width, int offset,
                int count, int dim, int to_heads) {
  for (int b = 0; b < batch; b++) {
    for (int h = 0; h < count; h++) {
      for (int l = 0; l < length; l++) {
        float* w = wide + ((uintptr_t)b * length + l) * width + offset + (uintptr_t)h * dim;
        float* t = heads + (((uintptr_t)b * count + h) * length + l) * dim;
        if (to_heads)
          copy_floats(t, w, dim);
        else
          copy_floats(w, t, dim);
      }
    }
  }
}

// Rotary embedding, "rotate half": for each [batch, heads, length, 2·half] row the halves
// x1, x2 become x1·cos - x2·s and x2·cos + x1·s with s = direction·sin, the angle tables
// [batch, length, half] shared by the heads. direction -1 is the inverse rotation (the
// gradient).
EXPORT("rotary")
void rotary(const float* from, float* to, const float* cos, const float* sin, int batch,
            int heads, int length, int half, float direction) {
  const int body = half & ~3;
  const v128_t dir = wasm_f32x4_splat(direction);
  for (int b = 0; b < batch; b++) {
    for (int h = 0; h < heads; h++) {
      for (int l = 0; l < length; l++) {
        const uintptr_t base = (((uintptr_t)b * heads + h) * length + l) * 2 * half;
        const uintptr_t angle = ((uintptr_t)b * length + l) * half;
        const float* x1 = from + base;
        const float* x2 = x1 + half;
        float* y1 = to + base;
        float* y2 = y1 + half;
        for (int i = 0; i < body; i += 4) {
          const v128_t c = wasm_v128_load(cos + angle + i);
          const v128_t s = wasm_f32x4_mul(dir, wasm_v128_load(sin + angle + i));
          const v128_t a = wasm_v128_load(x1 + i);
          const v128_t bb = wasm_v128_load(x2 + i);
          wasm_v128_store(y1 + i, wasm_f32x4_sub(wasm_f32x4_mul(a, c), wasm_f32x4_mul(bb, s)));
          wasm_v128_store(y2 + i, wasm_f32x4_add(wasm_f32x4_mul(bb, c), wasm_f32x4_mul(a, s)));
        }
        for (int i = body; i < half; i++) {
          const float c = cos[angle + i], s = direction * sin[angle + i];
          const float a = x1[i], bb = x2[i];
          y1[i] = a * c - bb * s;
          y2[i] = bb * c + a * s;
        }
      }
    }
  }
}

// c[t] = a[t] · b[t] for `batch` row-major products [m, k] · [k, n]: the attention products of
// a training step (128 products of 63 × 32 × 63 in the benchmark model), which XNNPACK runs one
// call each. Two rows of a against 16 columns of b at a time (eight accumulators), then 4 and
// 1 column tails; a single last row when m is odd. Sums in float32, in order of k.
EXPORT("batch_matmul")
void batch_matmul(const float* a, const float* b, float* c, int batch, int m, int k, int n) {
  const int n16 = n & ~15, n4 = n & ~3;
  for (int t = 0; t < batch; t++) {
    const float* A = a + (uintptr_t)t * m * k;
    const float* B = b + (uintptr_t)t * k * n;
    float* C = c + (uintptr_t)t * m * n;
    int i = 0;
    for (; i + 2 <= m; i += 2) {
      const float* a0 = A + (uintptr_t)i * k;
      const float* a1 = a0 + k;
      float* c0 = C + (uintptr_t)i * n;
      float* c1 = c0 + n;
      int j = 0;
      for (; j < n16; j += 16) {
        v128_t x00 = wasm_f32x4_splat(0), x01 = x00, x02 = x00, x03 = x00;
        v128_t x10 = x00, x11 = x00, x12 = x00, x13 = x00;
        for (int p = 0; p < k; p++) {
          const float* bp = B + (uintptr_t)p * n + j;
          const v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
          const v128_t b2 = wasm_v128_load(bp + 8), b3 = wasm_v128_load(bp + 12);
          const v128_t s0 = wasm_f32x4_splat(a0[p]), s1 = wasm_f32x4_splat(a1[p]);
          x00 = wasm_f32x4_add(x00, wasm_f32x4_mul(s0, b0));
          x01 = wasm_f32x4_add(x01, wasm_f32x4_mul(s0, b1));
          x02 = wasm_f32x4_add(x02, wasm_f32x4_mul(s0, b2));
          x03 = wasm_f32x4_add(x03, wasm_f32x4_mul(s0, b3));
          x10 = wasm_f32x4_add(x10, wasm_f32x4_mul(s1, b0));
          x11 = wasm_f32x4_add(x11, wasm_f32x4_mul(s1, b1));
          x12 = wasm_f32x4_add(x12, wasm_f32x4_mul(s1, b2));
          x13 = wasm_f32x4_add(x13, wasm_f32x4_mul(s1, b3));
        }
        wasm_v128_store(c0 + j, x00);
        wasm_v128_store(c0 + j + 4, x01);
        wasm_v128_store(c0 + j + 8, x02);
        wasm_v128_store(c0 + j + 12, x03);
        wasm_v128_store(c1 + j, x10);
        wasm_v128_store(c1 + j + 4, x11);
        wasm_v128_store(c1 + j + 8, x12);
        wasm_v128_store(c1 + j + 12, x13);
      }
      for (; j < n4; j += 4) {
        v128_t x0 = wasm_f32x4_splat(0), x1 = x0;
        for (int p = 0; p < k; p++) {
          const v128_t bv = wasm_v128_load(B + (uintptr_t)p * n + j);
          x0 = wasm_f32x4_add(x0, wasm_f32x4_mul(wasm_f32x4_splat(a0[p]), bv));
          x1 = wasm_f32x4_add(x1, wasm_f32x4_mul(wasm_f32x4_splat(a1[p]), bv));
        }
        wasm_v128_store(c0 + j, x0);
        wasm_v128_store(c1 + j, x1);
      }
      for (; j < n; j++) {
        float s0 = 0, s1 = 0;
        for (int p = 0; p < k; p++) {
          const float bv = B[(uintptr_t)p * n + j];
          s0 += a0[p] * bv;
          s1 += a1[p] * bv;
        }
        c0[j] = s0;
        c1[j] = s1;
      }
    }
    if (i < m) {
      const float* a0 = A + (uintptr_t)i * k;
      float* c0 = C + (uintptr_t)i * n;
      int j = 0;
      for (; j < n4; j += 4) {
        v128_t x0 = wasm_f32x4_splat(0);
        for (int p = 0; p < k; p++)
          x0 = wasm_f32x4_add(
              x0, wasm_f32x4_mul(wasm_f32x4_splat(a0[p]), wasm_v128_load(B + (uintptr_t)p * n + j)));
        wasm_v128_store(c0 + j, x0);
      }
      for (; j < n; j++) {
        float s0 = 0;
        for (int p = 0; p < k; p++) s0 += a0[p] * B[(uintptr_t)p * n + j];
        c0[j] = s0;
      }
    }
  }
}
