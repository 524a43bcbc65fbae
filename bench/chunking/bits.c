/*
 * Does OpenBLAS give the same bits for C = op(A)·op(B) computed as one call and as the row/column chunks our pool
 * uses (src/backend/native/pool.c, par_sgemm)? If not, changing the chunking changes the bits of every run trained
 * with it. Shapes: the linear layers' forward, input-gradient and weight-gradient products of the tiny (quick),
 * and base encoders at batch × length rows. Prints one JSON object on stdout (bench/chunking/bits.sh runs it per core).
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *openblas_get_corename(void);

static void call(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc);
}

/* C in chunks of `chunk` rows (M >= N) or columns, each its own call, as par_sgemm does */
static void chunked(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B, float *C, int64_t chunk) {
  int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N, len = M >= N ? M : N;
  for (int64_t lo = 0; lo < len; lo += chunk) {
    int64_t hi = lo + chunk < len ? lo + chunk : len;
    if (M >= N) call(ta, tb, hi - lo, N, K, A + (ta ? lo : lo * lda), lda, B, ldb, C + lo * ldc, ldc);
    else call(ta, tb, M, hi - lo, K, A, lda, B + (tb ? lo * ldb : lo), ldb, C + lo, ldc);
  }
}

/* pool.c's rule: at most 8 chunks, at least 64^3 multiply-adds each, whole 16-row blocks */
static int64_t pool_chunk(int64_t M, int64_t N, int64_t K) {
  int64_t len = M >= N ? M : N, per = (M >= N ? N : M) * K;
  int64_t grain = per > 0 ? (64 * 64 * 64 + per - 1) / per : len, c = (len + 7) / 8;
  if (c < grain) c = grain;
  c = (c + 15) / 16 * 16;
  return c < 16 ? 16 : c;
}

int main(void) {
  const int T[] = {8, 16, 24, 32, 48, 64, 96, 128, 160, 200, 256}, B[] = {32, 7};
  const int64_t D[][2] = {{192, 192}, {192, 768}, {768, 192}, {384, 10}, {768, 768}, {768, 3072}, {3072, 768}, {1536, 10}};
  int shapes = 0, one = 0, two = 0, printed = 0;
  srand(1);
  printf("{\"differ\": [");
  for (int bi = 0; bi < 2; bi++)
    for (int ti = 0; ti < 11; ti++)
      for (int di = 0; di < 8; di++)
        for (int kind = 0; kind < 3; kind++) {
          int64_t R = (int64_t)B[bi] * T[ti], in = D[di][0], out = D[di][1], M, N, K;
          int ta = 0, tb = 0;
          if (kind == 0) { M = R; N = out; K = in; tb = 1; }      /* forward X·Wᵀ */
          else if (kind == 1) { M = R; N = in; K = out; }         /* input gradient dY·W */
          else { M = out; N = in; K = R; ta = 1; }                 /* weight gradient dYᵀ·X */
          float *A = malloc(4 * M * K), *Bm = malloc(4 * K * N), *C0 = malloc(4 * M * N), *C1 = malloc(4 * M * N), *C2 = malloc(4 * M * N);
          for (int64_t i = 0; i < M * K; i++) A[i] = rand() / (float)RAND_MAX - 0.5f;
          for (int64_t i = 0; i < K * N; i++) Bm[i] = rand() / (float)RAND_MAX - 0.5f;
          int64_t len = M >= N ? M : N, c = pool_chunk(M, N, K);
          chunked(ta, tb, M, N, K, A, Bm, C0, c);
          chunked(ta, tb, M, N, K, A, Bm, C1, len);
          chunked(ta, tb, M, N, K, A, Bm, C2, ((len + 1) / 2 + 15) / 16 * 16);
          int d1 = memcmp(C0, C1, 4 * M * N) != 0, d2 = memcmp(C0, C2, 4 * M * N) != 0;
          shapes++, one += d1, two += d2;
          if ((d1 || d2) && printed < 40)
            printf("%s\n  {\"M\": %ld, \"N\": %ld, \"K\": %ld, \"ta\": %d, \"tb\": %d, \"chunk\": %ld, \"oneCall\": %s, \"twoChunks\": %s}", printed++ ? "," : "", (long)M, (long)N,
                   (long)K, ta, tb, (long)c, d1 ? "true" : "false", d2 ? "true" : "false");
          free(A), free(Bm), free(C0), free(C1), free(C2);
        }
  printf("],\n \"core\": \"%s\", \"shapes\": %d, \"oneCallDiffers\": %d, \"twoChunksDiffer\": %d}\n", openblas_get_corename(), shapes, one, two);
  return 0;
}
