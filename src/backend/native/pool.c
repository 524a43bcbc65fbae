/* The addon's fork-join pool (see pool.h). Workers spin briefly after a job, then sleep on a condition variable. */
#define _GNU_SOURCE
#include "pool.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define MXCSR_FTZ_DAZ 0x8040u /* bit 15 flush-to-zero, bit 6 denormals-are-zero */
#endif

#define POOL_MAX 64
/* ~100 µs of polling before a worker sleeps: consecutive kernels of a step reuse awake workers */
#define SPIN_POLLS 4000

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

typedef struct {
  range_fn fn;
  void *ctx;
  int64_t n, align;
  int parts;
} Job;

static int size = 1;    /* threads a job may use */
static int started = 0; /* workers running (ids 1..started) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_uint gen;  /* bumped once per job */
static atomic_int left;  /* workers that have not finished the current job */
static Job job;          /* written by the caller before `gen` moves, read by workers after */
static _Thread_local int in_job; /* this thread is running a part */
static atomic_int busy;          /* a job is in flight (the addon loaded by two JS threads must not share one) */

unsigned ftz_enter(void) {
#ifdef MXCSR_FTZ_DAZ
  unsigned saved = _mm_getcsr();
  if ((saved & MXCSR_FTZ_DAZ) != MXCSR_FTZ_DAZ) _mm_setcsr(saved | MXCSR_FTZ_DAZ);
  return saved;
#else
  return 0;
#endif
}

void ftz_leave(unsigned saved) {
#ifdef MXCSR_FTZ_DAZ
  if (_mm_getcsr() != saved) _mm_setcsr(saved);
#else
  (void)saved;
#endif
}

int ftz_active(void) {
#ifdef MXCSR_FTZ_DAZ
  return (_mm_getcsr() & MXCSR_FTZ_DAZ) == MXCSR_FTZ_DAZ;
#else
  return 0;
#endif
}

static void run_part(const Job *j, int part) {
  if (part >= j->parts) return;
  /* equal shares, boundaries rounded down to `align` (the last part takes the rest) */
  int64_t units = (j->n + j->align - 1) / j->align;
  int64_t lo = units * part / j->parts * j->align;
  int64_t hi = part == j->parts - 1 ? j->n : units * (part + 1) / j->parts * j->align;
  if (hi > j->n) hi = j->n;
  if (lo < hi) j->fn(j->ctx, lo, hi, part);
}

/* the job count when each worker was created: a worker that starts late still runs the job it was made for */
static unsigned start_gen[POOL_MAX + 1];

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned seen = start_gen[id];
  ftz_enter(); /* this thread only ever runs kernels: flush denormals for its lifetime */
  for (;;) {
    unsigned g = seen;
    for (int s = 0; s < SPIN_POLLS && (g = atomic_load_explicit(&gen, memory_order_acquire)) == seen; s++) relax();
    if (g == seen) {
      pthread_mutex_lock(&mu);
      while ((g = atomic_load_explicit(&gen, memory_order_acquire)) == seen) pthread_cond_wait(&cv, &mu);
      pthread_mutex_unlock(&mu);
    }
    seen = g;
    in_job = 1;
    run_part(&job, id);
    in_job = 0;
    atomic_fetch_sub_explicit(&left, 1, memory_order_acq_rel);
  }
  return NULL;
}

/* start workers up to `want`; returns how many run (fewer if a thread cannot be created) */
static int ensure_workers(int want) {
  while (started < want) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    start_gen[started + 1] = atomic_load(&gen);
    int ok = pthread_create(&t, &attr, worker, (void *)(intptr_t)(started + 1)) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    started++;
  }
  return started;
}

void pool_set_size(int n) {
  size = n < 1 ? 1 : (n > POOL_MAX ? POOL_MAX : n);
  openblas_set_num_threads(1);
}

int pool_get_size(void) { return size; }

int pool_parts(int64_t n, int64_t grain) {
  int64_t p = grain > 0 ? n / grain : n;
  if (p > size) p = size;
  return p < 1 ? 1 : (int)p;
}

void par_range(range_fn fn, void *ctx, int64_t n, int64_t grain, int64_t align) {
  if (n <= 0) return;
  /* a part that itself asks for a parallel range, or a second caller thread, runs it alone */
  int parts = in_job ? 1 : pool_parts(n, grain);
  int idle = 0;
  if (parts > 1 && !atomic_compare_exchange_strong(&busy, &idle, 1)) parts = 1;
  if (parts > 1) {
    int workers = ensure_workers(parts - 1);
    if (workers + 1 < parts) parts = workers + 1;
    if (parts == 1) atomic_store(&busy, 0);
  }
  if (parts == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  Job j = {fn, ctx, n, align < 1 ? 1 : align, parts};
  job = j;
  in_job = 1;
  atomic_store_explicit(&left, started, memory_order_relaxed);
  atomic_fetch_add_explicit(&gen, 1, memory_order_release);
  pthread_mutex_lock(&mu);
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  run_part(&j, 0);
  in_job = 0;
  for (long s = 0; atomic_load_explicit(&left, memory_order_acquire) > 0; s++) {
    if (s < SPIN_POLLS * 4) relax();
    else sched_yield(); /* a worker was descheduled (busy machine): let it run */
  }
  atomic_store(&busy, 0);
}

typedef struct {
  int *out;
  int max;
} FtzReport;

static void ftz_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)lo;
  (void)hi;
  FtzReport *r = ctx;
  if (part < r->max) r->out[part] = ftz_active();
}

int pool_ftz_report(int *out, int max) {
  FtzReport r = {out, max};
  int n = size < max ? size : max;
  par_range(ftz_part, &r, n, 1, 1);
  return n;
}

/* ------------------------------------------------------------------------------------------------ */

void sgemm1(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
            int64_t ldb, float beta, float *C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
              (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* bfloat16 products (precision 1, see pool_set_precision below): oneDNN's gemm_bf16bf16f32, when loaded */
typedef int (*dnnl_bf16_gemm_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t, const uint16_t *,
                                 int64_t, float, float *, int64_t);
static dnnl_bf16_gemm_fn dnnl_bf16 = NULL;

typedef struct {
  int ta, tb, by_rows;
  int64_t M, N, K, lda, ldb, ldc, sA, sB, chunk;
  float alpha, beta;
  const float *A, *B;
  float *C;
  /* the operands rounded to bfloat16 (packed), or NULL: float32 products */
  const uint16_t *A16, *B16;
} GemmJob;

/* C's rows (or columns) lo..hi, as one product */
static void gemm_rows(const GemmJob *g, int64_t lo, int64_t hi) {
  int64_t M = g->M, N = g->N, a = 0, b = 0, c;
  if (g->by_rows) {
    /* rows lo..hi of C are rows of op(A): row offset in A, or column offset when A is transposed */
    a = g->ta ? lo : lo * g->lda;
    c = lo * g->ldc;
    M = hi - lo;
  } else {
    b = g->tb ? lo * g->ldb : lo;
    c = lo;
    N = hi - lo;
  }
  if (g->A16)
    dnnl_bf16(g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', M, N, g->K, g->alpha, g->A16 + a, g->lda, g->B16 + b, g->ldb, g->beta, g->C + c, g->ldc);
  else
    sgemm1(g->ta, g->tb, M, N, g->K, g->alpha, g->A + a, g->lda, g->B + b, g->ldb, g->beta, g->C + c, g->ldc);
}

/* chunks lo..hi, each its own product: OpenBLAS's result for an element depends on the shape of the call, so the
 * chunks are fixed by the product's shape alone and the bits do not depend on how many threads share them */
static void gemm_chunks(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const GemmJob *g = ctx;
  int64_t len = g->by_rows ? g->M : g->N;
  for (int64_t c = lo; c < hi; c++) {
    int64_t end = (c + 1) * g->chunk < len ? (c + 1) * g->chunk : len;
    gemm_rows(g, c * g->chunk, end);
  }
}

/* at least 64^3 multiply-adds per chunk (OpenBLAS's own threshold for threading is of that order) */
#define GEMM_GRAIN_MACS (64 * 64 * 64)
/* at most this many chunks per product: up to this many threads share one, with the same bits as one thread */
#define GEMM_CHUNKS 8

/* split C's rows (or columns) into chunks fixed by the product's shape, and run them over the pool */
static void par_gemm_job(GemmJob *g) {
  g->by_rows = g->M >= g->N;
  int64_t len = g->by_rows ? g->M : g->N;
  int64_t per = (g->by_rows ? g->N : g->M) * g->K; /* multiply-adds per row (column) of C */
  int64_t grain = per > 0 ? (GEMM_GRAIN_MACS + per - 1) / per : len;
  int64_t chunk = (len + GEMM_CHUNKS - 1) / GEMM_CHUNKS;
  if (chunk < grain) chunk = grain;
  chunk = (chunk + 15) / 16 * 16; /* whole 16-row micro-kernel blocks */
  g->chunk = chunk < 16 ? 16 : chunk;
  par_range(gemm_chunks, g, (len + g->chunk - 1) / g->chunk, 1, 1);
}

static void par_sgemm_f32(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                          const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  GemmJob g = {ta, tb, 0, M, N, K, lda, ldb, ldc, 0, 0, 0, alpha, beta, A, B, C, NULL, NULL};
  par_gemm_job(&g);
}

/* ------------------------------------------------------------------------------------------------ */
/* bfloat16 products (precision 1): both operands rounded to bfloat16 (nearest even), products summed in float32, C
 * float32 — what PyTorch's CPU autocast does for a linear layer, except that C stays float32. With AVX512_BF16 (or
 * AMX) the product runs in oneDNN's gemm_bf16bf16f32 (libdnnl.so.2, loaded when asked for); without, the rounded
 * operands go through OpenBLAS's float32 sgemm ("emulated": the same rounding, other summation order, no speed-up). */

static int precision = PRECISION_F32;
static char engine_note[160] = "";

static int cpu_has_bf16(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  unsigned a, b, c, d;
  /* CPUID leaf 7 subleaf 1, EAX bit 5: AVX512_BF16; leaf 7 subleaf 0, EDX bit 22: AMX-BF16 */
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
  int avx512bf16 = (a >> 5) & 1;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  int amxbf16 = (d >> 22) & 1;
  return avx512bf16 || amxbf16;
#else
  return 0;
#endif
}

int pool_set_precision(int p) {
  if (p != PRECISION_BF16) {
    precision = PRECISION_F32;
    return PRECISION_F32;
  }
  precision = PRECISION_BF16;
  if (!dnnl_bf16 && cpu_has_bf16() && !getenv("MEDREL_BF16_EMULATE")) {
    /* oneDNN's OpenMP runtime must not start a team per calling thread: our pool splits the products */
    setenv("OMP_NUM_THREADS", "1", 1);
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h) {
      dnnl_bf16 = (dnnl_bf16_gemm_fn)dlsym(h, "dnnl_gemm_bf16bf16f32");
      typedef struct { int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime; } dnnl_ver;
      const dnnl_ver *(*ver)(void) = (const dnnl_ver *(*)(void))dlsym(h, "dnnl_version");
      if (ver && dnnl_bf16) snprintf(engine_note, sizeof engine_note, "onednn %d.%d.%d", ver()->major, ver()->minor, ver()->patch);
    } else {
      snprintf(engine_note, sizeof engine_note, "no libdnnl.so.2 (%.120s)", dlerror());
    }
  }
  return dnnl_bf16 ? PRECISION_BF16 : PRECISION_BF16_EMULATED;
}

int pool_get_precision(void) { return precision; }

const char *pool_bf16_engine(void) {
  if (dnnl_bf16) return engine_note;
  return cpu_has_bf16() ? (engine_note[0] ? engine_note : "emulated") : "emulated (no AVX512_BF16 / AMX)";
}

static inline uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN stays a (quiet) NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

typedef struct {
  const float *src;
  int64_t cols, ld;
  uint16_t *bf;  /* packed rows of bfloat16 (precision 1 with oneDNN) */
  float *f32;    /* or the rounded values as float32 (emulated) */
} RoundJob;

static void round_rows(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const RoundJob *r = ctx;
  for (int64_t i = lo; i < hi; i++) {
    const float *s = r->src + i * r->ld;
    if (r->bf) {
      uint16_t *d = r->bf + i * r->cols;
      for (int64_t j = 0; j < r->cols; j++) d[j] = to_bf16(s[j]);
    } else {
      float *d = r->f32 + i * r->cols;
      for (int64_t j = 0; j < r->cols; j++) {
        uint32_t u = (uint32_t)to_bf16(s[j]) << 16;
        memcpy(d + j, &u, 4);
      }
    }
  }
}

/* a rows x cols operand (leading dimension ld) rounded to bfloat16 into a packed buffer (leading dimension cols) */
static void *round_operand(const float *src, int64_t rows, int64_t cols, int64_t ld, int emulated) {
  void *buf = malloc((size_t)(rows * cols) * (emulated ? 4 : 2));
  if (!buf) return NULL;
  RoundJob r = {src, cols, ld, emulated ? NULL : buf, emulated ? buf : NULL};
  par_range(round_rows, &r, rows, cols >= 4096 ? 1 : 4096 / (cols > 0 ? cols : 1), 1);
  return buf;
}

static void par_sgemm_bf16(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                           const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  int emulated = dnnl_bf16 == NULL;
  int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
  void *a16 = round_operand(A, arows, acols, lda, emulated);
  void *b16 = round_operand(B, brows, bcols, ldb, emulated);
  if (!a16 || !b16) { /* out of memory for the copies: this product stays float32 */
    free(a16);
    free(b16);
    par_sgemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (emulated) {
    par_sgemm_f32(ta, tb, M, N, K, alpha, a16, acols, b16, bcols, beta, C, ldc);
  } else {
    GemmJob g = {ta, tb, 0, M, N, K, acols, bcols, ldc, 0, 0, 0, alpha, beta, NULL, NULL, C, a16, b16};
    par_gemm_job(&g);
  }
  free(a16);
  free(b16);
}

/* rows x cols of src (leading dimension ld) rounded into this thread's scratch `slot` (packed, leading dimension cols) */
static void *round_into(int slot, const float *src, int64_t rows, int64_t cols, int64_t ld, int emulated) {
  static _Thread_local void *buf[2];
  static _Thread_local size_t cap[2];
  size_t need = (size_t)(rows * cols) * (emulated ? 4 : 2);
  if (need > cap[slot]) {
    void *p = realloc(buf[slot], need);
    if (!p) return NULL;
    buf[slot] = p;
    cap[slot] = need;
  }
  RoundJob r = {src, cols, ld, emulated ? NULL : buf[slot], emulated ? buf[slot] : NULL};
  round_rows(&r, 0, rows, 0);
  return buf[slot];
}

void gemm1(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
           int64_t ldb, float beta, float *C, int64_t ldc) {
  if (precision != PRECISION_BF16 || K == 0) {
    sgemm1(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int emulated = dnnl_bf16 == NULL;
  int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
  void *a16 = round_into(0, A, arows, acols, lda, emulated);
  void *b16 = a16 ? round_into(1, B, brows, bcols, ldb, emulated) : NULL;
  if (!b16) sgemm1(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); /* no memory for the copies: float32 */
  else if (emulated) sgemm1(ta, tb, M, N, K, alpha, a16, acols, b16, bcols, beta, C, ldc);
  else dnnl_bf16(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, a16, acols, b16, bcols, beta, C, ldc);
}

void par_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
  if (precision == PRECISION_BF16 && K > 0)
    par_sgemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    par_sgemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void batch_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const GemmJob *g = ctx;
  for (int64_t i = lo; i < hi; i++)
    gemm1(g->ta, g->tb, g->M, g->N, g->K, g->alpha, g->A + i * g->sA, g->lda, g->B + i * g->sB, g->ldb, g->beta, g->C + i * g->M * g->N, g->ldc);
}

void par_sgemm_batch(int ta, int tb, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t sA,
                     const float *B, int64_t sB, float beta, float *C) {
  int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if (batch > 1 && batch >= size) {
    GemmJob g = {ta, tb, 1, M, N, K, lda, ldb, N, sA, sB, 0, alpha, beta, A, B, C, NULL, NULL};
    par_range(batch_part, &g, batch, 1, 1);
    return;
  }
  for (int64_t i = 0; i < batch; i++) par_sgemm(ta, tb, M, N, K, alpha, A + i * sA, lda, B + i * sB, ldb, beta, C + i * M * N, N);
}
