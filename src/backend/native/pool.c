/* The addon's fork-join pool (see pool.h). Workers spin briefly after a job, then sleep on a condition variable. */
#define _GNU_SOURCE
#include "pool.h"

#include <cblas.h>
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

typedef struct {
  int ta, tb, by_rows;
  int64_t M, N, K, lda, ldb, ldc, sA, sB, chunk;
  float alpha, beta;
  const float *A, *B;
  float *C;
} GemmJob;

/* C's rows (or columns) lo..hi, as one product */
static void gemm_rows(const GemmJob *g, int64_t lo, int64_t hi) {
  const float *A = g->A, *B = g->B;
  float *C = g->C;
  int64_t M = g->M, N = g->N;
  if (g->by_rows) {
    /* rows lo..hi of C are rows of op(A): row offset in A, or column offset when A is transposed */
    A += g->ta ? lo : lo * g->lda;
    C += lo * g->ldc;
    M = hi - lo;
  } else {
    B += g->tb ? lo * g->ldb : lo;
    C += lo;
    N = hi - lo;
  }
  sgemm1(g->ta, g->tb, M, N, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
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

void par_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
               int64_t ldb, float beta, float *C, int64_t ldc) {
  GemmJob g = {ta, tb, M >= N, M, N, K, lda, ldb, ldc, 0, 0, 0, alpha, beta, A, B, C};
  int64_t len = g.by_rows ? M : N;
  int64_t per = (g.by_rows ? N : M) * K; /* multiply-adds per row (column) of C */
  int64_t grain = per > 0 ? (GEMM_GRAIN_MACS + per - 1) / per : len;
  int64_t chunk = (len + GEMM_CHUNKS - 1) / GEMM_CHUNKS;
  if (chunk < grain) chunk = grain;
  chunk = (chunk + 15) / 16 * 16; /* whole 16-row micro-kernel blocks */
  g.chunk = chunk < 16 ? 16 : chunk;
  par_range(gemm_chunks, &g, (len + g.chunk - 1) / g.chunk, 1, 1);
}

static void batch_part(void *ctx, int64_t lo, int64_t hi, int part) {
  (void)part;
  const GemmJob *g = ctx;
  for (int64_t i = lo; i < hi; i++)
    sgemm1(g->ta, g->tb, g->M, g->N, g->K, g->alpha, g->A + i * g->sA, g->lda, g->B + i * g->sB, g->ldb, g->beta, g->C + i * g->M * g->N, g->ldc);
}

void par_sgemm_batch(int ta, int tb, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t sA,
                     const float *B, int64_t sB, float beta, float *C) {
  int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if (batch > 1 && batch >= size) {
    GemmJob g = {ta, tb, 1, M, N, K, lda, ldb, N, sA, sB, 0, alpha, beta, A, B, C};
    par_range(batch_part, &g, batch, 1, 1);
    return;
  }
  for (int64_t i = 0; i < batch; i++) par_sgemm(ta, tb, M, N, K, alpha, A + i * sA, lda, B + i * sB, ldb, beta, C + i * M * N, N);
}
