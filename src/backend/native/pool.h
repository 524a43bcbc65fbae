/*
 * A fork-join thread pool for the addon's kernels: the calling (JS) thread plus size - 1 workers each run one
 * part of a job. OpenBLAS itself is kept at one thread; every product is split here instead (par_sgemm), so
 * no second pool spins beside ours.
 */
#ifndef MEDREL_POOL_H
#define MEDREL_POOL_H
#include <stdint.h>

/* Denormal floats (below 1.2e-38) cost a microcode assist per operation on many x86 CPUs (~160x on Intel Xeons):
 * every thread that runs our kernels or OpenBLAS flushes them to zero (MXCSR FTZ|DAZ). Workers set it once at start;
 * the JS thread sets it for the duration of each addon call (ftz_enter/ftz_leave), because V8's numbers share that
 * register and JS must keep IEEE semantics. */
unsigned ftz_enter(void);
void ftz_leave(unsigned saved);
/* 1 when the calling thread flushes denormals now */
int ftz_active(void);
/* for each of the pool's threads (caller first), whether it flushes denormals; returns how many were asked */
int pool_ftz_report(int *out, int max);

/* work on [lo, hi) of a range, as part `part` of a job */
typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi, int part);

/* threads a job may use, the caller included (1 = run everything on the caller) */
void pool_set_size(int n);
int pool_get_size(void);

/* number of parts par_range will cut [0, n) into: at most the pool size, each at least `grain` long */
int pool_parts(int64_t n, int64_t grain);

/* fn on consecutive parts of [0, n) (part boundaries multiples of `align`), one per thread, then wait for all */
void par_range(range_fn fn, void *ctx, int64_t n, int64_t grain, int64_t align);

/* row-major C = alpha op(A) op(B) + beta C on the calling thread (OpenBLAS's sgemm with 0/1 flags) */
void sgemm1(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
            int64_t ldb, float beta, float *C, int64_t ldc);

/* sgemm1 at the product precision (pool_set_precision): bfloat16 operands rounded into per-thread scratch */
void gemm1(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
           int64_t ldb, float beta, float *C, int64_t ldc);

/* the same, split by rows (or columns) of C over the pool; one-thread sgemm each */
void par_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* C[i] = alpha op(A[i]) op(B[i]) + beta C[i] for i < batch, A[i] = A + i * strideA (0: one matrix for all), B likewise,
 * C[i] = C + i * M * N, contiguous (lda = K or M, ldb = N or K, ldc = N); whole products per thread when there are
 * enough of them, else each product split */
void par_sgemm_batch(int transA, int transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t strideA, const float *B, int64_t strideB, float beta, float *C);

/* product precision of par_sgemm: float32 (OpenBLAS), or bfloat16 operands with float32 sums */
#define PRECISION_F32 0
#define PRECISION_BF16 1
#define PRECISION_BF16_EMULATED 2
/* set it; returns what runs: PRECISION_F32, PRECISION_BF16 (oneDNN) or PRECISION_BF16_EMULATED (rounded operands, OpenBLAS) */
int pool_set_precision(int p);
int pool_get_precision(void);
/* what runs the bfloat16 products, in words ("onednn 2.6.3", "emulated (no AVX512_BF16 / AMX)") */
const char *pool_bf16_engine(void);

#endif
