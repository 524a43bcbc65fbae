/*
 * medrel_native: BLAS-backed kernels for the tfjs WASM backend.
 *
 * Every entry point receives the WebAssembly heap (an ArrayBuffer) and byte offsets into it, so tensors
 * are read and written in place: no copies between JS and C. The JS side re-fetches the heap buffer on
 * every call because WebAssembly memory growth replaces it. All float data is float32, ids are int32.
 * Where an offset is expected, a Float32Array/Int32Array outside the heap may be passed instead (AdamW's
 * moments live in JS memory so that the 4 GiB heap holds weights, gradients and activations only).
 *
 * Hot loops are written branch-free so GCC vectorises them (-O3, AVX2+FMA when the CPU has them), and run
 * on the pool of pool.c (setThreads(n): n threads for products and kernels alike, OpenBLAS itself at one).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* elements (or row elements) per part below which splitting a loop costs more than it saves */
#define EW_GRAIN 16384
static int64_t row_grain(int64_t cols) { return cols >= EW_GRAIN ? 1 : EW_GRAIN / (cols > 0 ? cols : 1); }

/* ------------------------------------------------------------------------------------------------ */
/* N-API argument helpers                                                                           */

#define MAX_ARGS 24

typedef struct {
  napi_env env;
  size_t argc;
  napi_value argv[MAX_ARGS];
  uint8_t *heap;
  size_t heap_len;
  int failed;
} Args;

static void fail(Args *a, const char *msg) {
  if (!a->failed) napi_throw_error(a->env, "MEDREL_NATIVE", msg);
  a->failed = 1;
}

static int get_args(napi_env env, napi_callback_info info, Args *a, size_t want) {
  a->env = env;
  a->argc = MAX_ARGS;
  a->failed = 0;
  a->heap = NULL;
  a->heap_len = 0;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok) {
    fail(a, "cannot read arguments");
    return 0;
  }
  if (a->argc < want) {
    fail(a, "too few arguments");
    return 0;
  }
  if (want > 0) {
    void *data = NULL;
    bool is_ab = false;
    napi_is_arraybuffer(env, a->argv[0], &is_ab);
    if (!is_ab || napi_get_arraybuffer_info(env, a->argv[0], &data, &a->heap_len) != napi_ok) {
      fail(a, "argument 0 must be the WebAssembly heap ArrayBuffer");
      return 0;
    }
    a->heap = (uint8_t *)data;
  }
  return 1;
}

static double num(Args *a, size_t i) {
  double v = 0;
  if (napi_get_value_double(a->env, a->argv[i], &v) != napi_ok) fail(a, "expected a number argument");
  return v;
}

static int64_t inum(Args *a, size_t i) { return (int64_t)num(a, i); }

/* a float32/int32 typed array's first element (memory outside the heap, e.g. optimizer state kept in JS) */
static void *typed_ptr(Args *a, size_t i, size_t count) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(a->env, a->argv[i], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(a->env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok) {
    fail(a, "expected a byte offset into the heap or a typed array");
    return NULL;
  }
  if ((type != napi_float32_array && type != napi_int32_array) || length < count) {
    fail(a, "typed array is not float32/int32 or shorter than the tensor");
    return NULL;
  }
  return data;
}

/* pointer to `count` elements of `elem` bytes at byte offset argv[i] of the heap, or into a typed array passed
 * there instead (4-byte elements); NULL (and no error) for offset < 0 */
static void *ptr(Args *a, size_t i, size_t count, size_t elem) {
  napi_valuetype t = napi_undefined;
  if (!a->failed && napi_typeof(a->env, a->argv[i], &t) == napi_ok && t == napi_object) return typed_ptr(a, i, count);
  double off = num(a, i);
  if (a->failed || off < 0) return NULL;
  size_t o = (size_t)off;
  if (o + count * elem > a->heap_len || (o & 3) != 0) {
    fail(a, "tensor range outside the WebAssembly heap");
    return NULL;
  }
  return a->heap + o;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* ------------------------------------------------------------------------------------------------ */
/* vectorisable math                                                                                */

/* exp(x) for float32: Cody-Waite range reduction + degree-6 polynomial, rel. error ~2 ulp */
static inline float vexp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  return p * s;
}

/* erf(x) for float32: the rational approximation used by Eigen/XLA (a few ulp; exact to float at |x|>=4) */
static inline float verf(float x) {
  x = x > 4.0f ? 4.0f : (x < -4.0f ? -4.0f : x);
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

#define SQRT1_2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

/* ------------------------------------------------------------------------------------------------ */
/* epilogues for fused matmul                                                                       */

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_SIGMOID = 3, ACT_LEAKYRELU = 4, ACT_ELU = 5, ACT_GELU = 6 };

typedef struct {
  float *c;
  int64_t cols;
  const float *bias;
  int act;
  float alpha;
} EpilogueJob;

static void epilogue_rows(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const EpilogueJob *e = ctx;
  float *c = e->c;
  int64_t cols = e->cols;
  const float *bias = e->bias;
  float alpha = e->alpha;
  int act = e->act;
  for (int64_t r = lo; r < hi; r++) {
    float *row = c + r * cols;
    if (bias)
      for (int64_t j = 0; j < cols; j++) row[j] += bias[j];
    switch (act) {
      case ACT_RELU:
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : 0;
        break;
      case ACT_RELU6:
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] < 0 ? 0 : (row[j] > 6 ? 6 : row[j]);
        break;
      case ACT_SIGMOID:
        for (int64_t j = 0; j < cols; j++) row[j] = 1.0f / (1.0f + vexp(-row[j]));
        break;
      case ACT_LEAKYRELU:
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : alpha * row[j];
        break;
      case ACT_ELU:
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : vexp(row[j]) - 1.0f;
        break;
      case ACT_GELU:
        for (int64_t j = 0; j < cols; j++) {
          float x = row[j];
          row[j] = 0.5f * x * (1.0f + verf(x * SQRT1_2));
        }
        break;
      default:
        break;
    }
  }
}

static void epilogue(float *c, int64_t rows, int64_t cols, const float *bias, int act, float alpha) {
  EpilogueJob e = {c, cols, bias, act, alpha};
  par_range(epilogue_rows, &e, rows, row_grain(cols), 1);
}

/* ------------------------------------------------------------------------------------------------ */
/* gemm(heap, batch, transA, transB, M, N, K, aOff, strideA, bOff, strideB, cOff, alpha, beta,
 *      biasOff, act, actAlpha)
 * C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i], then bias (length N, broadcast over rows) and activation.
 * strides are in elements; 0 broadcasts one matrix over the batch. A is MxK (KxM if transA), B is KxN
 * (NxK if transB), all row-major and contiguous. */
static napi_value Gemm(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 17)) return NULL;
  int64_t batch = inum(&a, 1);
  int ta = (int)inum(&a, 2), tb = (int)inum(&a, 3);
  int64_t M = inum(&a, 4), N = inum(&a, 5), K = inum(&a, 6);
  int64_t sA = inum(&a, 8), sB = inum(&a, 10);
  float alpha = (float)num(&a, 12), beta = (float)num(&a, 13);
  int act = (int)inum(&a, 15);
  float act_alpha = (float)num(&a, 16);
  if (a.failed) return NULL;
  if (batch < 0 || M < 0 || N < 0 || K < 0 || sA < 0 || sB < 0) {
    fail(&a, "negative gemm dimension");
    return NULL;
  }
  if (batch == 0 || M == 0 || N == 0) return undef(env);
  const float *A = ptr(&a, 7, (size_t)(sA * (batch - 1) + M * K), 4);
  const float *B = ptr(&a, 9, (size_t)(sB * (batch - 1) + K * N), 4);
  float *C = ptr(&a, 11, (size_t)(batch * M * N), 4);
  const float *bias = ptr(&a, 14, (size_t)N, 4);
  if (a.failed) return NULL;
  if (K == 0) {
    for (int64_t i = 0; i < batch * M * N; i++) C[i] = beta == 0 ? 0 : beta * C[i];
  } else {
    par_sgemm_batch(ta, tb, batch, M, N, K, alpha, A, sA, B, sB, beta, C);
  }
  if (bias || act != ACT_LINEAR) epilogue(C, batch * M, N, bias, act, act_alpha);
  return undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* gelu(heap, xOff, yOff, n): y = x * Phi(x) (erf form, as PyTorch's default GELU) */
typedef struct {
  const float *x, *dy;
  float *out;
} GeluJob;

static void gelu_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const GeluJob *g = ctx;
  const float *x = g->x;
  float *y = g->out;
  for (int64_t i = lo; i < hi; i++) {
    float v = x[i];
    y[i] = 0.5f * v * (1.0f + verf(v * SQRT1_2));
  }
}

static void gelu_grad_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const GeluJob *g = ctx;
  const float *x = g->x, *dy = g->dy;
  float *dx = g->out;
  for (int64_t i = lo; i < hi; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.0f + verf(v * SQRT1_2));
    float pdf = INV_SQRT_2PI * vexp(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

static napi_value Gelu(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 4)) return NULL;
  int64_t n = inum(&a, 3);
  const float *x = ptr(&a, 1, (size_t)n, 4);
  float *y = ptr(&a, 2, (size_t)n, 4);
  if (a.failed) return NULL;
  GeluJob g = {x, NULL, y};
  par_range(gelu_part, &g, n, EW_GRAIN, 16);
  return undef(env);
}

/* geluGrad(heap, xOff, dyOff, dxOff, n): dx = dy * (Phi(x) + x * phi(x)) */
static napi_value GeluGrad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 5)) return NULL;
  int64_t n = inum(&a, 4);
  const float *x = ptr(&a, 1, (size_t)n, 4);
  const float *dy = ptr(&a, 2, (size_t)n, 4);
  float *dx = ptr(&a, 3, (size_t)n, 4);
  if (a.failed) return NULL;
  GeluJob g = {x, dy, dx};
  par_range(gelu_grad_part, &g, n, EW_GRAIN, 16);
  return undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* dropout(heap, xOff, yOff, n, rate, seed): y = x * keep / (1 - rate), keep ~ Bernoulli(1 - rate) from a
 * counter-based hash of (seed, index), so the same seed gives the same mask on every run and backend. */
static inline uint32_t mix32(uint32_t z) {
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

typedef struct {
  uint32_t thr;   /* keep when hash >= thr (thr = rate * 2^32) */
  uint32_t key;   /* mixed seed */
  float scale;    /* 1 / (1 - rate) */
} DropoutMask;

static DropoutMask dropout_mask(double rate, uint32_t seed) {
  DropoutMask m;
  double t = rate * 4294967296.0;
  m.thr = (uint32_t)(t > 4294967295.0 ? 4294967295.0 : t);
  m.scale = rate >= 1.0 ? 0.0f : (float)(1.0 / (1.0 - rate));
  m.key = mix32(seed ^ 0x9e3779b9u);
  return m;
}

/* y[i] = x[i] * mask(first + i): element indices are global so a slice of a tensor gets the tensor's mask */
static void apply_dropout(const float *x, float *y, int64_t n, int64_t first, DropoutMask m) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t h = mix32((uint32_t)(first + i) * 0x9e3779b9u + m.key);
    y[i] = h >= m.thr ? x[i] * m.scale : 0.0f;
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* layerNorm(heap, xOff, gOff, bOff, yOff, statsOff, rows, cols, eps)
 * y = (x - mean) * rstd * gamma + beta over the last axis; stats[2r] = mean, stats[2r+1] = rstd
 * addLayerNorm(heap, xOff, rOff, gOff, bOff, yOff, statsOff, sumOff, rows, cols, eps, rate, seed)
 * the residual block's end in one pass: sum = dropout(x) + r, y = layerNorm(sum) (sum kept for the gradient) */
typedef struct {
  const float *x, *g, *b, *stats, *dy;
  float *y, *st, *dx;
  float *partial;   /* gradient: per block of LN_BLOCK rows, cols of dgamma then cols of dbeta */
  int64_t rows;
  const float *res; /* addLayerNorm: the residual added to dropout(x), whose sum goes to `sum` */
  float *sum;
  float *dxdrop;    /* addLayerNormGrad: dropout'(dx), the gradient of the dropped branch */
  DropoutMask dm;
  int drop;         /* rate > 0 */
  int64_t cols;
  float eps;
} LayerNormJob;

static void layer_norm_rows(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const LayerNormJob *L = ctx;
  const float *g = L->g, *b = L->b;
  int64_t cols = L->cols;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = L->x + r * cols;
    float *yr = L->y + r * cols;
    if (L->res) {
      /* the normalised row is dropout(x) + residual, written to sum first */
      float *sr = L->sum + r * cols;
      if (L->drop) apply_dropout(xr, sr, cols, r * cols, L->dm);
      else memcpy(sr, xr, (size_t)cols * sizeof(float));
      const float *rr = L->res + r * cols;
      for (int64_t j = 0; j < cols; j++) sr[j] += rr[j];
      xr = sr;
    }
    float s = 0;
    for (int64_t j = 0; j < cols; j++) s += xr[j];
    float mean = s / (float)cols;
    float v = 0;
    for (int64_t j = 0; j < cols; j++) {
      float d = xr[j] - mean;
      v += d * d;
    }
    float rstd = 1.0f / sqrtf(v / (float)cols + L->eps);
    for (int64_t j = 0; j < cols; j++) {
      float h = (xr[j] - mean) * rstd;
      yr[j] = (g ? h * g[j] : h) + (b ? b[j] : 0.0f);
    }
    if (L->st) {
      L->st[2 * r] = mean;
      L->st[2 * r + 1] = rstd;
    }
  }
}

static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 9)) return NULL;
  int64_t rows = inum(&a, 6), cols = inum(&a, 7);
  LayerNormJob L = {0};
  L.cols = cols;
  L.eps = (float)num(&a, 8);
  L.x = ptr(&a, 1, (size_t)(rows * cols), 4);
  L.g = ptr(&a, 2, (size_t)cols, 4);
  L.b = ptr(&a, 3, (size_t)cols, 4);
  L.y = ptr(&a, 4, (size_t)(rows * cols), 4);
  L.st = ptr(&a, 5, (size_t)(2 * rows), 4);
  if (a.failed) return NULL;
  par_range(layer_norm_rows, &L, rows, row_grain(cols), 1);
  return undef(env);
}

/* layerNormGrad(heap, xOff, gOff, statsOff, dyOff, dxOff, dgOff, dbOff, rows, cols)
 * dx = rstd * (dy*g - mean(dy*g) - xhat * mean(dy*g*xhat)); dg = sum(dy*xhat); db = sum(dy)
 * dgamma/dbeta are summed per block of LN_BLOCK rows, then over the blocks in order: the blocks do not depend on how
 * many threads run them, so the sums (and the training that follows) are the same bits at any thread count. */
#define LN_BLOCK 32

static void layer_norm_grad_blocks(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const LayerNormJob *L = ctx;
  const float *g = L->g;
  int64_t cols = L->cols;
  float inv = 1.0f / (float)cols;
  for (int64_t blk = lo; blk < hi; blk++) {
    float *dg = L->partial + blk * 2 * cols, *db = dg + cols;
    int64_t end = (blk + 1) * LN_BLOCK < L->rows ? (blk + 1) * LN_BLOCK : L->rows;
    for (int64_t r = blk * LN_BLOCK; r < end; r++) {
      const float *xr = L->x + r * cols, *dyr = L->dy + r * cols;
      float *dxr = L->dx + r * cols;
      float mean = L->stats[2 * r], rstd = L->stats[2 * r + 1];
      float s1 = 0, s2 = 0;
      for (int64_t j = 0; j < cols; j++) {
        float h = (xr[j] - mean) * rstd;
        float dh = g ? dyr[j] * g[j] : dyr[j];
        s1 += dh;
        s2 += dh * h;
        dg[j] += dyr[j] * h;
        db[j] += dyr[j];
      }
      s1 *= inv;
      s2 *= inv;
      for (int64_t j = 0; j < cols; j++) {
        float h = (xr[j] - mean) * rstd;
        float dh = g ? dyr[j] * g[j] : dyr[j];
        dxr[j] = rstd * (dh - s1 - h * s2);
      }
      if (L->dxdrop) apply_dropout(dxr, L->dxdrop + r * cols, cols, r * cols, L->dm);
    }
  }
}

/* the row blocks over the pool, then dgamma/dbeta from the blocks' partial sums in block order; 0 when out of memory */
static int layer_norm_grad(LayerNormJob *L, int64_t rows, float *dg, float *db) {
  int64_t cols = L->cols;
  int64_t blocks = (rows + LN_BLOCK - 1) / LN_BLOCK;
  int64_t grain = row_grain(cols) / LN_BLOCK;
  L->rows = rows;
  L->partial = calloc((size_t)(blocks * 2 * cols), sizeof(float));
  if (!L->partial) return 0;
  par_range(layer_norm_grad_blocks, L, blocks, grain < 1 ? 1 : grain, 1);
  for (int64_t j = 0; j < cols; j++) {
    float sg = 0, sb = 0;
    for (int64_t p = 0; p < blocks; p++) {
      sg += L->partial[p * 2 * cols + j];
      sb += L->partial[p * 2 * cols + cols + j];
    }
    if (dg) dg[j] = sg;
    if (db) db[j] = sb;
  }
  free(L->partial);
  return 1;
}

static napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 10)) return NULL;
  int64_t rows = inum(&a, 8), cols = inum(&a, 9);
  LayerNormJob L = {0};
  L.cols = cols;
  L.x = ptr(&a, 1, (size_t)(rows * cols), 4);
  L.g = ptr(&a, 2, (size_t)cols, 4);
  L.stats = ptr(&a, 3, (size_t)(2 * rows), 4);
  L.dy = ptr(&a, 4, (size_t)(rows * cols), 4);
  L.dx = ptr(&a, 5, (size_t)(rows * cols), 4);
  float *dg = ptr(&a, 6, (size_t)cols, 4);
  float *db = ptr(&a, 7, (size_t)cols, 4);
  if (a.failed) return NULL;
  if (!L.stats || !L.x || !L.dy || !L.dx) {
    fail(&a, "layerNormGrad needs x, stats, dy and dx");
    return NULL;
  }
  if (!layer_norm_grad(&L, rows, dg, db)) fail(&a, "out of memory");
  return a.failed ? NULL : undef(env);
}

/* addLayerNorm: see layerNorm above */
static napi_value AddLayerNorm(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 13)) return NULL;
  int64_t rows = inum(&a, 8), cols = inum(&a, 9), n = rows * cols;
  double rate = num(&a, 11);
  LayerNormJob L = {0};
  L.cols = cols;
  L.eps = (float)num(&a, 10);
  L.dm = dropout_mask(rate, (uint32_t)(int64_t)num(&a, 12));
  L.drop = rate > 0;
  L.x = ptr(&a, 1, (size_t)n, 4);
  L.res = ptr(&a, 2, (size_t)n, 4);
  L.g = ptr(&a, 3, (size_t)cols, 4);
  L.b = ptr(&a, 4, (size_t)cols, 4);
  L.y = ptr(&a, 5, (size_t)n, 4);
  L.st = ptr(&a, 6, (size_t)(2 * rows), 4);
  L.sum = ptr(&a, 7, (size_t)n, 4);
  if (a.failed) return NULL;
  if (!L.x || !L.res || !L.y || !L.sum) {
    fail(&a, "addLayerNorm needs x, residual, y and sum");
    return NULL;
  }
  par_range(layer_norm_rows, &L, rows, row_grain(cols), 1);
  return undef(env);
}

/* addLayerNormGrad(heap, sumOff, gOff, statsOff, dyOff, dsumOff, dxOff, dgOff, dbOff, rows, cols, rate, seed)
 * dsum = layerNorm'(dy) (the residual's gradient), dx = dropout'(dsum) (needs rate > 0), dgamma, dbeta */
static napi_value AddLayerNormGrad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 13)) return NULL;
  int64_t rows = inum(&a, 9), cols = inum(&a, 10), n = rows * cols;
  double rate = num(&a, 11);
  LayerNormJob L = {0};
  L.cols = cols;
  L.dm = dropout_mask(rate, (uint32_t)(int64_t)num(&a, 12));
  L.x = ptr(&a, 1, (size_t)n, 4);
  L.g = ptr(&a, 2, (size_t)cols, 4);
  L.stats = ptr(&a, 3, (size_t)(2 * rows), 4);
  L.dy = ptr(&a, 4, (size_t)n, 4);
  L.dx = ptr(&a, 5, (size_t)n, 4);
  L.dxdrop = rate > 0 ? ptr(&a, 6, (size_t)n, 4) : NULL;
  float *dg = ptr(&a, 7, (size_t)cols, 4);
  float *db = ptr(&a, 8, (size_t)cols, 4);
  if (a.failed) return NULL;
  if (!L.stats || !L.x || !L.dy || !L.dx || (rate > 0 && !L.dxdrop)) {
    fail(&a, "addLayerNormGrad needs sum, stats, dy, dsum (and dx with dropout)");
    return NULL;
  }
  if (!layer_norm_grad(&L, rows, dg, db)) fail(&a, "out of memory");
  return a.failed ? NULL : undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* softmax(heap, xOff, yOff, rows, cols, scale, maskOff, rowsPerMask)
 * y = softmax(scale * x + mask) over the last axis. mask (optional) is additive with `cols` entries per
 * mask row; mask row index = floor(row / rowsPerMask) (attention: rowsPerMask = heads * Tq). */

/* one row: yr = softmax(scale * xr + mr) (xr may be yr) */
static void softmax_row(const float *xr, float *yr, int64_t cols, float scale, const float *mr) {
  for (int64_t j = 0; j < cols; j++) yr[j] = scale * xr[j] + (mr ? mr[j] : 0.0f);
  /* 8 running maxima so the loop vectorises (a single ternary chain does not) */
  float mx[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t j8 = cols & ~(int64_t)7;
  for (int64_t j = 0; j < j8; j += 8)
    for (int k = 0; k < 8; k++) mx[k] = yr[j + k] > mx[k] ? yr[j + k] : mx[k];
  float m = -INFINITY;
  for (int k = 0; k < 8; k++) m = mx[k] > m ? mx[k] : m;
  for (int64_t j = j8; j < cols; j++) m = yr[j] > m ? yr[j] : m;
  float s = 0;
  for (int64_t j = 0; j < cols; j++) {
    float e = vexp(yr[j] - m);
    yr[j] = e;
    s += e;
  }
  float is = 1.0f / s;
  for (int64_t j = 0; j < cols; j++) yr[j] *= is;
}

/* one row of the gradient: dx = scale * y * (dy - sum(dy * y)) (dx may be dy) */
static void softmax_grad_row(const float *yr, const float *dyr, float *dxr, int64_t cols, float scale) {
  float s = 0;
  for (int64_t j = 0; j < cols; j++) s += dyr[j] * yr[j];
  for (int64_t j = 0; j < cols; j++) dxr[j] = scale * yr[j] * (dyr[j] - s);
}

typedef struct {
  const float *x, *mask, *dy;
  float *y;
  int64_t cols, per;
  float scale;
} SoftmaxJob;

static void softmax_rows(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const SoftmaxJob *S = ctx;
  for (int64_t r = lo; r < hi; r++)
    softmax_row(S->x + r * S->cols, S->y + r * S->cols, S->cols, S->scale, S->mask ? S->mask + (r / S->per) * S->cols : NULL);
}

static void softmax_grad_rows(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const SoftmaxJob *S = ctx; /* x = y (the forward output), y = dx */
  for (int64_t r = lo; r < hi; r++) softmax_grad_row(S->x + r * S->cols, S->dy + r * S->cols, S->y + r * S->cols, S->cols, S->scale);
}

static napi_value Softmax(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 8)) return NULL;
  int64_t rows = inum(&a, 3), cols = inum(&a, 4);
  int64_t per = inum(&a, 7);
  if (per <= 0) per = rows > 0 ? rows : 1;
  SoftmaxJob S = {0};
  S.cols = cols;
  S.per = per;
  S.scale = (float)num(&a, 5);
  S.x = ptr(&a, 1, (size_t)(rows * cols), 4);
  S.y = ptr(&a, 2, (size_t)(rows * cols), 4);
  S.mask = ptr(&a, 6, (size_t)(((rows + per - 1) / per) * cols), 4);
  if (a.failed) return NULL;
  par_range(softmax_rows, &S, rows, row_grain(cols), 1);
  return undef(env);
}

/* softmaxGrad(heap, yOff, dyOff, dxOff, rows, cols, scale): dx = scale * y * (dy - sum(dy * y)) */
static napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 7)) return NULL;
  int64_t rows = inum(&a, 4), cols = inum(&a, 5);
  SoftmaxJob S = {0};
  S.cols = cols;
  S.scale = (float)num(&a, 6);
  S.x = ptr(&a, 1, (size_t)(rows * cols), 4);
  S.dy = ptr(&a, 2, (size_t)(rows * cols), 4);
  S.y = ptr(&a, 3, (size_t)(rows * cols), 4);
  if (a.failed) return NULL;
  par_range(softmax_grad_rows, &S, rows, row_grain(cols), 1);
  return undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* segmentSum(heap, dataOff, idsOff, outOff, nIds, rowLen, numSegments)
 * out[s] = sum of data rows whose id == s (TF UnsortedSegmentSum; ids outside [0, numSegments) dropped) */
static napi_value SegmentSum(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 7)) return NULL;
  int64_t n = inum(&a, 4), len = inum(&a, 5), segs = inum(&a, 6);
  const float *data = ptr(&a, 1, (size_t)(n * len), 4);
  const int32_t *ids = ptr(&a, 2, (size_t)n, 4);
  float *out = ptr(&a, 3, (size_t)(segs * len), 4);
  if (a.failed) return NULL;
  memset(out, 0, (size_t)(segs * len) * 4);
  for (int64_t i = 0; i < n; i++) {
    int64_t s = ids[i];
    if (s < 0 || s >= segs) continue;
    float *o = out + s * len;
    const float *d = data + i * len;
    for (int64_t j = 0; j < len; j++) o[j] += d[j];
  }
  return undef(env);
}

typedef struct {
  const float *x;
  float *y;
  DropoutMask m;
} DropoutJob;

static void dropout_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const DropoutJob *d = ctx;
  apply_dropout(d->x + lo, d->y + lo, hi - lo, lo, d->m);
}

static napi_value Dropout(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 6)) return NULL;
  int64_t n = inum(&a, 3);
  double rate = num(&a, 4);
  uint32_t seed = (uint32_t)(int64_t)num(&a, 5);
  const float *x = ptr(&a, 1, (size_t)n, 4);
  float *y = ptr(&a, 2, (size_t)n, 4);
  if (a.failed) return NULL;
  DropoutJob d = {x, y, dropout_mask(rate, seed)};
  par_range(dropout_part, &d, n, EW_GRAIN, 16);
  return undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* Attention straight from the [B*T, H] projections: head h of example b is the T x d block at
 * (b*T)*H + h*d with row stride H, so no head split/merge transposes are needed. Both directions run over the
 * pool by (example, head) block, each part with its own T x T scratch.
 *
 * attention(heap, qOff, kOff, vOff, maskOff, ctxOff, probsOff, B, heads, T, d, scale, rate, seed)
 *   probs[b,h] = softmax(scale * Q K^T + mask[b]);  ctx[b, :, h] = dropout(probs[b,h]) V
 *   probsOff < 0: the probabilities are not written out (each block in its part's scratch)
 * attentionGrad(heap, qOff, kOff, vOff, probsOff, dctxOff, dqOff, dkOff, dvOff, B, heads, T, d, scale, rate, seed, maskOff)
 *   probsOff < 0: each block's probabilities are recomputed from Q, K and the mask (one more T x T x d product per
 *   block) instead of read, so a layer need not keep [B, heads, T, T] for backward
 * Dropout element indices are those of probs [B, heads, T, T], as dropout(probs) would number them. */

typedef struct {
  const float *q, *k, *v, *mask, *probs, *dctx;
  float *ctx, *P, *dq, *dk, *dv;
  int64_t NH, T, D;
  float scale;
  double rate;
  DropoutMask dm;
  int failed; /* a part could not allocate its scratch */
} AttentionJob;

/* P = softmax(scale * Q K^T + mask) for block bh (example bh / heads, head bh % heads), on the calling thread */
static void attention_probs(const AttentionJob *J, int64_t bh, float *P) {
  int64_t T = J->T, D = J->D, H = J->NH * J->D, b = bh / J->NH;
  int64_t blk = (b * T) * H + (bh % J->NH) * D;
  const float *mr = J->mask ? J->mask + b * T : NULL;
  gemm1(0, 1, T, T, D, 1.0f, J->q + blk, H, J->k + blk, H, 0.0f, P, T);
  for (int64_t i = 0; i < T; i++) softmax_row(P + i * T, P + i * T, T, J->scale, mr);
}

/* `blocks` T x T blocks of scratch for one part; NULL for none, or (the job then marked failed) out of memory */
static float *block_scratch(AttentionJob *J, int64_t blocks) {
  if (blocks == 0) return NULL;
  float *s = malloc((size_t)(blocks * J->T * J->T) * sizeof(float));
  if (!s) J->failed = 1;
  return s;
}

/* blocks lo..hi of B * heads: scores, softmax, dropout, times V (one-thread products) */
static void attention_blocks(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  AttentionJob *J = ctx;
  int64_t T = J->T, D = J->D, H = J->NH * J->D, TT = T * T;
  int drop = J->rate > 0;
  /* [dropped block][probability block when probs are not written out] */
  int64_t blocks = drop + (J->P ? 0 : 1);
  float *scratch = block_scratch(J, blocks);
  if (blocks && !scratch) return;
  for (int64_t bh = lo; bh < hi; bh++) {
    int64_t blk = ((bh / J->NH) * T) * H + (bh % J->NH) * D;
    float *P = J->P ? J->P + bh * TT : scratch + drop * TT;
    attention_probs(J, bh, P);
    const float *Pd = P;
    if (drop) {
      apply_dropout(P, scratch, TT, bh * TT, J->dm);
      Pd = scratch;
    }
    gemm1(0, 0, T, D, T, 1.0f, Pd, T, J->v + blk, H, 0.0f, J->ctx + blk, H);
  }
  free(scratch);
}

static napi_value Attention(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 14)) return NULL;
  int64_t B = inum(&a, 7), NH = inum(&a, 8), T = inum(&a, 9), D = inum(&a, 10);
  int64_t H = NH * D;
  AttentionJob J = {0};
  J.NH = NH;
  J.T = T;
  J.D = D;
  J.scale = (float)num(&a, 11);
  J.rate = num(&a, 12);
  J.dm = dropout_mask(J.rate, (uint32_t)(int64_t)num(&a, 13));
  J.q = ptr(&a, 1, (size_t)(B * T * H), 4);
  J.k = ptr(&a, 2, (size_t)(B * T * H), 4);
  J.v = ptr(&a, 3, (size_t)(B * T * H), 4);
  J.mask = ptr(&a, 4, (size_t)(B * T), 4);
  J.ctx = ptr(&a, 5, (size_t)(B * T * H), 4);
  J.P = ptr(&a, 6, (size_t)(B * NH * T * T), 4);
  if (a.failed) return NULL;
  if (!J.q || !J.k || !J.v || !J.ctx) {
    fail(&a, "attention needs q, k, v and ctx");
    return NULL;
  }
  par_range(attention_blocks, &J, B * NH, 1, 1);
  if (J.failed) fail(&a, "out of memory");
  return a.failed ? NULL : undef(env);
}

/* blocks lo..hi of the gradient: dV = dropout(P)^T dC; dP = dropout'(dC V^T); dS = softmax'(dP); dQ = dS K; dK = dS^T Q */
static void attention_grad_blocks(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  AttentionJob *J = ctx;
  int64_t T = J->T, D = J->D, H = J->NH * J->D, TT = T * T;
  /* [dropped P][dP][recomputed P when probs are not given] */
  float *scratch = block_scratch(J, J->probs ? 2 : 3);
  if (!scratch) return;
  float *Pd = scratch, *dP = scratch + TT, *Pr = scratch + 2 * TT;
  for (int64_t bh = lo; bh < hi; bh++) {
    int64_t blk = ((bh / J->NH) * T) * H + (bh % J->NH) * D;
    int64_t first = bh * TT;
    const float *P = J->probs ? J->probs + first : Pr;
    if (!J->probs) attention_probs(J, bh, Pr);
    const float *Pu = P;
    if (J->rate > 0) {
      apply_dropout(P, Pd, TT, first, J->dm);
      Pu = Pd;
    }
    gemm1(1, 0, T, D, T, 1.0f, Pu, T, J->dctx + blk, H, 0.0f, J->dv + blk, H);
    gemm1(0, 1, T, T, D, 1.0f, J->dctx + blk, H, J->v + blk, H, 0.0f, dP, T);
    if (J->rate > 0) apply_dropout(dP, dP, TT, first, J->dm);
    for (int64_t i = 0; i < T; i++) softmax_grad_row(P + i * T, dP + i * T, dP + i * T, T, J->scale);
    gemm1(0, 0, T, D, T, 1.0f, dP, T, J->k + blk, H, 0.0f, J->dq + blk, H);
    gemm1(1, 0, T, D, T, 1.0f, dP, T, J->q + blk, H, 0.0f, J->dk + blk, H);
  }
  free(scratch);
}

static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 17)) return NULL;
  int64_t B = inum(&a, 9), NH = inum(&a, 10), T = inum(&a, 11), D = inum(&a, 12);
  int64_t n = B * T * NH * D;
  AttentionJob J = {0};
  J.NH = NH;
  J.T = T;
  J.D = D;
  J.scale = (float)num(&a, 13);
  J.rate = num(&a, 14);
  J.dm = dropout_mask(J.rate, (uint32_t)(int64_t)num(&a, 15));
  J.q = ptr(&a, 1, (size_t)n, 4);
  J.k = ptr(&a, 2, (size_t)n, 4);
  J.v = ptr(&a, 3, (size_t)n, 4);
  J.probs = ptr(&a, 4, (size_t)(B * NH * T * T), 4);
  J.dctx = ptr(&a, 5, (size_t)n, 4);
  J.dq = ptr(&a, 6, (size_t)n, 4);
  J.dk = ptr(&a, 7, (size_t)n, 4);
  J.dv = ptr(&a, 8, (size_t)n, 4);
  J.mask = ptr(&a, 16, (size_t)(B * T), 4);
  if (a.failed) return NULL;
  if (!J.q || !J.k || !J.v || !J.dctx || !J.dq || !J.dk || !J.dv) {
    fail(&a, "attentionGrad needs q, k, v, dctx, dq, dk and dv");
    return NULL;
  }
  par_range(attention_grad_blocks, &J, B * NH, 1, 1);
  if (J.failed) fail(&a, "out of memory");
  return a.failed ? NULL : undef(env);
}

/* out[j] = sum over rows of x[r, j], for columns lo..hi */
typedef struct {
  const float *x;
  float *out;
  int64_t rows, cols;
} ColumnSumJob;

static void column_sums(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const ColumnSumJob *c = ctx;
  for (int64_t j = lo; j < hi; j++) c->out[j] = 0;
  for (int64_t r = 0; r < c->rows; r++) {
    const float *row = c->x + r * c->cols;
    for (int64_t j = lo; j < hi; j++) c->out[j] += row[j];
  }
}

/* linearGrad(heap, xOff, wOff, dyOff, dxOff, dwOff, dbOff, rows, in, out)
 * y = x W + b with x [rows, in], W [in, out]: dx = dy W^T, dW = x^T dy, db = column sums of dy */
static napi_value LinearGrad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 10)) return NULL;
  int64_t rows = inum(&a, 7), nin = inum(&a, 8), nout = inum(&a, 9);
  const float *x = ptr(&a, 1, (size_t)(rows * nin), 4);
  const float *w = ptr(&a, 2, (size_t)(nin * nout), 4);
  const float *dy = ptr(&a, 3, (size_t)(rows * nout), 4);
  float *dx = ptr(&a, 4, (size_t)(rows * nin), 4);
  float *dw = ptr(&a, 5, (size_t)(nin * nout), 4);
  float *db = ptr(&a, 6, (size_t)nout, 4);
  if (a.failed) return NULL;
  if (!x || !w || !dy) {
    fail(&a, "linearGrad needs x, W and dy");
    return NULL;
  }
  if (rows == 0 || nin == 0 || nout == 0) {
    if (dx) memset(dx, 0, (size_t)(rows * nin) * 4);
    if (dw) memset(dw, 0, (size_t)(nin * nout) * 4);
    if (db) memset(db, 0, (size_t)nout * 4);
    return undef(env);
  }
  if (dx) par_sgemm(0, 1, rows, nin, nout, 1.0f, dy, nout, w, nout, 0.0f, dx, nin);
  if (dw) par_sgemm(1, 0, nin, nout, rows, 1.0f, x, nin, dy, nout, 0.0f, dw, nout);
  if (db) {
    ColumnSumJob c = {dy, db, rows, nout};
    par_range(column_sums, &c, nout, row_grain(rows), 16);
  }
  return undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* adamw(heap, pOff, gOff, mOff, vOff, pOutOff, mOutOff, vOutOff, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2)
 * PyTorch AdamW (decoupled decay): p' = p(1 - lr wd) - lr/bc1 * m' / (sqrt(v'/bc2) + eps) with
 * m' = b1 m + (1-b1) g, v' = b2 v + (1-b2) g^2, bc = 1 - beta^t. Outputs may alias inputs (in place). */
typedef struct {
  const float *p, *g, *m, *v;
  float *po, *mo, *vo;
  float b1, b2, eps, decay, step, ibc2;
} AdamWJob;

static void adamw_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const AdamWJob *J = ctx;
  float b1 = J->b1, b2 = J->b2, eps = J->eps, decay = J->decay, step = J->step, ibc2 = J->ibc2;
  for (int64_t i = lo; i < hi; i++) {
    float gi = J->g[i];
    float mi = b1 * J->m[i] + (1.0f - b1) * gi;
    float vi = b2 * J->v[i] + (1.0f - b2) * gi * gi;
    float pi = J->p[i] * decay - step * mi / (sqrtf(vi * ibc2) + eps);
    J->mo[i] = mi;
    J->vo[i] = vi;
    J->po[i] = pi;
  }
}

static napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 16)) return NULL;
  int64_t n = inum(&a, 8);
  float lr = (float)num(&a, 9), b1 = (float)num(&a, 10), b2 = (float)num(&a, 11), eps = (float)num(&a, 12);
  float wd = (float)num(&a, 13), bc1 = (float)num(&a, 14), bc2 = (float)num(&a, 15);
  const float *p = ptr(&a, 1, (size_t)n, 4);
  const float *g = ptr(&a, 2, (size_t)n, 4);
  const float *m = ptr(&a, 3, (size_t)n, 4);
  const float *v = ptr(&a, 4, (size_t)n, 4);
  float *po = ptr(&a, 5, (size_t)n, 4);
  float *mo = ptr(&a, 6, (size_t)n, 4);
  float *vo = ptr(&a, 7, (size_t)n, 4);
  if (a.failed) return NULL;
  if (!p || !g || !m || !v || !po || !mo || !vo) {
    fail(&a, "adamw needs all seven tensors");
    return NULL;
  }
  AdamWJob J = {p, g, m, v, po, mo, vo, b1, b2, eps, 1.0f - lr * wd, lr / bc1, 1.0f / bc2};
  par_range(adamw_part, &J, n, EW_GRAIN, 16);
  return undef(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* threads and build info */

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 0)) return NULL;
  if (a.argc < 1) {
    fail(&a, "setThreads(n)");
    return NULL;
  }
  int n = (int)inum(&a, 0);
  if (a.failed) return NULL;
  pool_set_size(n);
  return undef(env);
}

static napi_value GetThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_int32(env, pool_get_size(), &v);
  return v;
}

/* setPrecision(p) -> { precision, engine }: p 0 = float32 products, 1 = bfloat16 operands with float32 sums; returns
 * what runs (2 = bfloat16 emulated through OpenBLAS) and, for bfloat16, the engine in words */
static napi_value SetPrecision(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 0)) return NULL;
  if (a.argc < 1) {
    fail(&a, "setPrecision(p)");
    return NULL;
  }
  int p = (int)inum(&a, 0);
  if (a.failed) return NULL;
  if (p != PRECISION_F32 && p != PRECISION_BF16) {
    fail(&a, "setPrecision: 0 (float32) or 1 (bfloat16)");
    return NULL;
  }
  int runs = pool_set_precision(p);
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, runs, &v);
  napi_set_named_property(env, obj, "precision", v);
  napi_create_string_utf8(env, runs == PRECISION_F32 ? "openblas" : pool_bf16_engine(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "engine", v);
  return obj;
}

static napi_value BlasInfo(napi_env env, napi_callback_info info) {
  (void)info;
  const char *cfg = openblas_get_config();
  const char *core = openblas_get_corename();
  char buf[512];
  snprintf(buf, sizeof buf, "%s; core %s", cfg ? cfg : "OpenBLAS", core ? core : "?");
  napi_value v;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* ------------------------------------------------------------------------------------------------ */

/* bumped whenever an entry point's arguments change; src/backend/native.ts refuses a build of another version
 * 2: typed arrays accepted for offsets; attention may skip writing probs, attentionGrad recomputes them (maskOff)
 * 3: addLayerNorm/addLayerNormGrad; setThreads sizes the addon's own pool (pool.c), OpenBLAS at one thread
 * 4: every kernel flushes denormals (FTZ|DAZ, pool.h); denormalsFlushed() reports it per thread
 * 5: setPrecision (bfloat16 products through oneDNN, pool.c) */
#define MEDREL_NATIVE_ABI 5

/* denormalsFlushed() -> { caller, threads: [bool per pool thread, caller first] }, asked from inside a call (as a
 * kernel runs); JS itself keeps IEEE semantics between calls */
static napi_value DenormalsFlushed(napi_env env, napi_callback_info info) {
  (void)info;
  int flags[64];
  for (int i = 0; i < 64; i++) flags[i] = 0;
  int n = pool_ftz_report(flags, 64);
  napi_value obj, arr, v;
  napi_create_object(env, &obj);
  napi_get_boolean(env, ftz_active(), &v);
  napi_set_named_property(env, obj, "caller", v);
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_get_boolean(env, flags[i] == 1, &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  napi_set_named_property(env, obj, "threads", arr);
  return obj;
}

/* every compute entry point runs with denormals flushed on the calling thread, restored on return */
#define FTZ(name)                                                              \
  static napi_value name##Ftz(napi_env env, napi_callback_info info) {        \
    unsigned saved = ftz_enter();                                               \
    napi_value v = name(env, info);                                             \
    ftz_leave(saved);                                                           \
    return v;                                                                   \
  }
FTZ(Gemm)
FTZ(Gelu)
FTZ(GeluGrad)
FTZ(LayerNorm)
FTZ(LayerNormGrad)
FTZ(AddLayerNorm)
FTZ(AddLayerNormGrad)
FTZ(Softmax)
FTZ(SoftmaxGrad)
FTZ(SegmentSum)
FTZ(Dropout)
FTZ(AdamW)
FTZ(Attention)
FTZ(AttentionGrad)
FTZ(LinearGrad)
FTZ(DenormalsFlushed)

static napi_value AbiVersion(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_int32(env, MEDREL_NATIVE_ABI, &v);
  return v;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, GemmFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gelu", NULL, GeluFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluGrad", NULL, GeluGradFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, LayerNormFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormGrad", NULL, LayerNormGradFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addLayerNorm", NULL, AddLayerNormFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addLayerNormGrad", NULL, AddLayerNormGradFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmax", NULL, SoftmaxFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmaxGrad", NULL, SoftmaxGradFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"segmentSum", NULL, SegmentSumFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropout", NULL, DropoutFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamw", NULL, AdamWFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, AttentionFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionGrad", NULL, AttentionGradFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linearGrad", NULL, LinearGradFtz, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setPrecision", NULL, SetPrecision, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, GetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasInfo", NULL, BlasInfo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"abiVersion", NULL, AbiVersion, NULL, NULL, NULL, napi_enumerable, NULL},
      {"denormalsFlushed", NULL, DenormalsFlushedFtz, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  pool_set_size(1);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
