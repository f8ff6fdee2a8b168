/*
 * Elementwise kernels of @hicra/tensor-native. This file alone is compiled with -ffast-math
 * (compile step only, never at link: the process's floating-point mode stays untouched) so gcc
 * may call glibc's vector math library (libmvec) for tanhf; each loop has no comparisons for
 * the compiler to fold, so NaN and infinity propagate as libmvec computes them.
 */
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__)
#define HICRA_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HICRA_CLONES
#endif

HICRA_CLONES
void hicra_tanh(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

/* Softmax over the last axis: rows of `cols` values, y = exp(x - max) / sum. */
HICRA_CLONES
void hicra_softmax(const float *x, float *y, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *in = x + r * cols;
    float *out = y + r * cols;
    float max = in[0];
    for (size_t c = 1; c < cols; c++) max = in[c] > max ? in[c] : max;
    float sum = 0.0f;
    for (size_t c = 0; c < cols; c++) {
      out[c] = expf(in[c] - max);
      sum += out[c];
    }
    const float scale = 1.0f / sum;
    for (size_t c = 0; c < cols; c++) out[c] *= scale;
  }
}

HICRA_CLONES
void hicra_exp(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
