// Winograd convolution F(4×4, 5×5) (see include/easgd_winograd.h).
//
// With d an 8×8 input tile, g a 5×5 kernel and y the 4×4 output tile it gives,
//     y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// and summed over input channels the element-wise product becomes, at each of the 64 points p of the transform
// domain, one matrix product over channels: M_p (Co × T) = U_p (Co × Ci) · V_p (Ci × T), T = N · tiles.
// Backward runs the adjoints of these steps in reverse order:
//     dM_p = (A dY Aᵀ)_p,   dU_p = dM_p · V_pᵀ → dW = Gᵀ dU G,   dV_p = U_pᵀ · dM_p → dX += B dV Bᵀ (tiles overlap).
// The 64 products run on oneDNN's sgemm, one thread each, the points split over the threads; the transforms run
// per image plane. No sum crosses a thread boundary, so the results do not depend on the thread count.
// Tensors: U, dU: [64][Co][Ci]; V (then dV): [64][Ci][T]; M (then dM): [64][Co][T]; point p = 8·row + column.

#include "easgd_winograd.h"
#include "easgd_parallel.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void omp_set_num_threads(int);

// The transforms use 8-lane vectors and fused multiply-adds; create() checks the CPU has them.
#define KERNEL __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
typedef float v8 __attribute__((vector_size(32)));

// Cook–Toom matrices for the points 0, 1, −1, 2, −2, 1/2, −1/2 and ∞ (generated with exact rational arithmetic so
// that Aᵀ[(G g) ⊙ (Bᵀ d)] is the 1-D correlation of d with g for every g and d; the 2-D algorithm nests it).
static const float AT[4][8] = {
    {1, 1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
    {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
    {0, 1, -1, 8, -8, 0.125f, -0.125f, 1},
};
static const float G[8][5] = {
    {-1, 0, 0, 0, 0},
    {-2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9},
    {-2.0f / 9, 2.0f / 9, -2.0f / 9, 2.0f / 9, -2.0f / 9},
    {1.0f / 90, 1.0f / 45, 2.0f / 45, 4.0f / 45, 8.0f / 45},
    {1.0f / 90, -1.0f / 45, 2.0f / 45, -4.0f / 45, 8.0f / 45},
    {32.0f / 45, 16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45},
    {32.0f / 45, -16.0f / 45, 8.0f / 45, -4.0f / 45, 2.0f / 45},
    {0, 0, 0, 0, 1},
};
static const float BT[8][8] = {
    {-1, 0, 5.25f, 0, -5.25f, 0, 1, 0},
    {0, 1, 1, -4.25f, -4.25f, 1, 1, 0},
    {0, -1, 1, 4.25f, -4.25f, -1, 1, 0},
    {0, 0.5f, 0.25f, -2.5f, -1.25f, 2, 1, 0},
    {0, -0.5f, 0.25f, 2.5f, -1.25f, -2, 1, 0},
    {0, 2, 4, -2.5f, -5, 0.5f, 1, 0},
    {0, -2, 4, 2.5f, -5, -0.5f, 1, 0},
    {0, -1, 0, 5.25f, 0, -5.25f, 0, 1},
};

// out = L X Rᵀ, out[i][k] = Σ_j Σ_l L[i][j] X[j][l] R[k][l]: rows as 8-lane vectors (lanes past a row's length 0).
// L is one of the constant matrices above, read as L[i][j] = m[i·rs + j·cs] (cs = 1 for the matrix, rs = 1 for its
// transpose), so that after inlining its entries are constants and its zeros cost nothing; r[l] holds column l of
// R (lane k = R[k][l]).
INLINE KERNEL void two_sided(int a, int b, int bp, const float *m, int rs, int cs, const v8 *x, const v8 *r,
                             v8 *out) {
    float t[8][8] __attribute__((aligned(32)));
#pragma clang loop unroll(full)
    for (int i = 0; i < a; i++) {
        v8 s = {0};
#pragma clang loop unroll(full)
        for (int j = 0; j < b; j++) {
            const float c = m[i * rs + j * cs];
            if (c != 0) s += c * x[j];
        }
        memcpy(t[i], &s, sizeof s);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < a; i++) {
        v8 s = {0};
#pragma clang loop unroll(full)
        for (int l = 0; l < bp; l++) s += t[i][l] * r[l];
        out[i] = s;
    }
}

// The columns of Bᵀ, G and Aᵀ and the rows of Bᵀ, G and Aᵀ as vectors (the R sides of the six transforms).
static v8 bt_columns[8], g_columns[5], at_columns[8], bt_rows[8], g_rows[8], at_rows[4];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void make_tables(void) {
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 8; k++) {
            bt_columns[l][k] = BT[k][l];
            bt_rows[l][k] = BT[l][k];
            if (l < 5) g_columns[l][k] = G[k][l];
            if (k < 5) g_rows[l][k] = G[l][k];
            at_columns[l][k] = k < 4 ? AT[k][l] : 0;
            if (l < 4) at_rows[l][k] = AT[l][k];
        }
}

INLINE KERNEL v8 load(const float *p, int n) {
    v8 v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

// The 64 points of one channel and tile: entry (i, l) of the 8×8 block is at p[(8i + l) · stride].
INLINE KERNEL void scatter(float *p, size_t stride, const v8 *rows) {
    for (int i = 0; i < 8; i++)
        for (int l = 0; l < 8; l++) p[(8 * i + l) * stride] = rows[i][l];
}

INLINE KERNEL void gather(v8 *rows, const float *p, size_t stride) {
    for (int i = 0; i < 8; i++)
        for (int l = 0; l < 8; l++) rows[i][l] = p[(8 * i + l) * stride];
}

struct easgd_winograd {
    int n, ci, h, w, co, ho, wo, tw, tiles;   // tiles = n · (ho/4) · (wo/4)
    size_t su, sv, sm;                        // the point strides of U and dU, V, M
    float *u, *du, *v, *m;
    size_t bytes;
};

// Point p's matrix starts at p · stride, the stride a matrix's size rounded up to whole cache lines plus one: the
// 64 matrices' entries for one channel and tile then fall in different cache sets (with power-of-two sizes they
// would all share one, and the transforms, which touch all 64, would thrash it).
static size_t point_stride(size_t floats) { return (floats + 15) / 16 * 16 + 16; }
static size_t floats_u(int ci, int co) { return 64 * point_stride((size_t)co * ci); }
static size_t tiles_of(int n, int h, int w) { return (size_t)n * ((h - 4) / 4) * ((w - 4) / 4); }
static size_t floats_v(int n, int ci, int h, int w) { return 64 * point_stride(ci * tiles_of(n, h, w)); }
static size_t floats_m(int n, int co, int h, int w) { return 64 * point_stride(co * tiles_of(n, h, w)); }

size_t easgd_winograd_bytes_for(int batch, int in_channels, int height, int width, int out_channels) {
    return sizeof(float) * (2 * floats_u(in_channels, out_channels) + floats_v(batch, in_channels, height, width) +
                            floats_m(batch, out_channels, height, width));
}

static float *allocate(size_t count) {
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

int easgd_winograd_cpu_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

easgd_winograd *easgd_winograd_create(int batch, int in_channels, int height, int width, int out_channels,
                                      char *error, size_t error_size) {
    if (error_size) error[0] = 0;
    if (!easgd_winograd_cpu_supported()) {
        snprintf(error, error_size, "Winograd: this CPU has no AVX2 and FMA");
        return NULL;
    }
    if (batch < 1 || in_channels < 1 || out_channels < 1 || height < 8 || width < 8 || (height - 4) % 4 ||
        (width - 4) % 4) {
        snprintf(error, error_size, "Winograd F(4×4, 5×5): output %d×%d is not made of 4×4 tiles", height - 4,
                 width - 4);
        return NULL;
    }
    pthread_once(&tables_once, make_tables);
    easgd_winograd *c = calloc(1, sizeof *c);
    if (!c) goto fail;
    *c = (easgd_winograd){.n = batch, .ci = in_channels, .h = height, .w = width, .co = out_channels,
                          .ho = height - 4, .wo = width - 4, .tw = (width - 4) / 4};
    c->tiles = batch * (c->ho / 4) * c->tw;
    c->su = point_stride((size_t)out_channels * in_channels);
    c->sv = point_stride((size_t)in_channels * c->tiles);
    c->sm = point_stride((size_t)out_channels * c->tiles);
    c->u = allocate(floats_u(in_channels, out_channels));
    c->du = allocate(floats_u(in_channels, out_channels));
    c->v = allocate(floats_v(batch, in_channels, height, width));
    c->m = allocate(floats_m(batch, out_channels, height, width));
    if (!c->u || !c->du || !c->v || !c->m) goto fail;
    c->bytes = easgd_winograd_bytes_for(batch, in_channels, height, width, out_channels);
    return c;
fail:
    snprintf(error, error_size, "Winograd: out of memory for %zu bytes",
             easgd_winograd_bytes_for(batch, in_channels, height, width, out_channels));
    easgd_winograd_destroy(c);
    return NULL;
}

void easgd_winograd_destroy(easgd_winograd *c) {
    if (!c) return;
    free(c->u);
    free(c->du);
    free(c->v);
    free(c->m);
    free(c);
}

size_t easgd_winograd_bytes(const easgd_winograd *c) { return c->bytes; }

// ---- running a loop over items on the threads (easgd_parallel_items: each item on exactly one thread, claimed as
// the threads go; every item is computed the same way whichever thread claims it, so the bits do not change) ----

typedef struct {
    const easgd_winograd *c;
    const float *in0, *in1, *in2;
    float *out0, *out1;
    int status;
} job;

static int run(job *j, long count, void (*item)(void *, long)) {
    j->status = 0;
    easgd_parallel_items(count, j, item);
    return j->status;
}

static void fail_with(job *j, int status) { __atomic_store_n(&j->status, status, __ATOMIC_RELAXED); }

// ---- forward ----

// U[p][co][ci] = (G g Gᵀ)_p for g = w[co][ci].
static KERNEL void weights_item(void *context, long k) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const float *g = j->in0 + k * 25;
    v8 rows[5], u[8];
    for (int r = 0; r < 5; r++) rows[r] = load(g + 5 * r, 5);
    two_sided(8, 5, 5, &G[0][0], 5, 1, rows, g_columns, u);
    const size_t stride = c->su;
    float *dst = c->u + k;   // k = co · Ci + ci
    scatter(dst, stride, u);
}

// V[p][ci][t] = (Bᵀ d B)_p for every tile d of the plane x[n][ci], k = ci · N + n (images inner: consecutive items
// write consecutive tiles, so the 64 rows being written each fill whole cache lines).
static KERNEL void input_item(void *context, long k) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const long ci = k / c->n, n = k % c->n;
    const float *plane = j->in0 + ((size_t)n * c->ci + ci) * c->h * c->w;
    const size_t stride = c->sv;
    const int th = c->ho / 4;
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < c->tw; tx++) {
            v8 d[8], v[8];
            for (int r = 0; r < 8; r++) d[r] = load(plane + (size_t)(4 * ty + r) * c->w + 4 * tx, 8);
            two_sided(8, 8, 8, &BT[0][0], 8, 1, d, bt_columns, v);
            float *dst = c->v + ci * c->tiles + (n * th + ty) * c->tw + tx;
            scatter(dst, stride, v);
        }
}

// y[n][co] tile by tile: Aᵀ M A + b[co], k = co · N + n.
static KERNEL void output_item(void *context, long k) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const long co = k / c->n, n = k % c->n;
    const float bias = j->in1[co];
    float *plane = j->out0 + ((size_t)n * c->co + co) * c->ho * c->wo;
    const size_t stride = c->sm;
    const int th = c->ho / 4;
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < c->tw; tx++) {
            const float *src = c->m + co * c->tiles + (n * th + ty) * c->tw + tx;
            v8 rows[8], y[4];
            gather(rows, src, stride);
            two_sided(4, 8, 8, &AT[0][0], 8, 1, rows, at_columns, y);
            for (int i = 0; i < 4; i++) {
                v8 out = y[i] + bias;
                memcpy(plane + (size_t)(4 * ty + i) * c->wo + 4 * tx, &out, 4 * sizeof(float));
            }
        }
}

// The 64 products, k = p: M_p = U_p · V_p (forward), dU_p = dM_p · V_pᵀ, dV_p = U_pᵀ · dM_p (backward).
static void product_forward(void *context, long p) {
    job *j = context;
    const easgd_winograd *c = j->c;
    omp_set_num_threads(1);
    dnnl_status_t s = dnnl_sgemm('N', 'N', c->co, c->tiles, c->ci, 1, c->u + p * c->su, c->ci,
                                 c->v + p * c->sv, c->tiles, 0, c->m + p * c->sm, c->tiles);
    if (s != dnnl_success) fail_with(j, (int)s);
}

static void product_weights(void *context, long p) {
    job *j = context;
    const easgd_winograd *c = j->c;
    omp_set_num_threads(1);
    dnnl_status_t s = dnnl_sgemm('N', 'T', c->co, c->ci, c->tiles, 1, c->m + p * c->sm, c->tiles,
                                 c->v + p * c->sv, c->tiles, 0, c->du + p * c->su, c->ci);
    if (s != dnnl_success) fail_with(j, (int)s);
}

static void product_data(void *context, long p) {
    job *j = context;
    const easgd_winograd *c = j->c;
    omp_set_num_threads(1);
    dnnl_status_t s = dnnl_sgemm('T', 'N', c->ci, c->tiles, c->co, 1, c->u + p * c->su, c->ci,
                                 c->m + p * c->sm, c->tiles, 0, c->v + p * c->sv, c->tiles);
    if (s != dnnl_success) fail_with(j, (int)s);
}

int easgd_winograd_forward(easgd_winograd *c, const float *x, const float *w, const float *b, float *y) {
    job j = {.c = c, .in0 = w};
    run(&j, (long)c->co * c->ci, weights_item);
    j.in0 = x;
    run(&j, (long)c->n * c->ci, input_item);
    int status = run(&j, 64, product_forward);
    if (status) return status;
    j.in1 = b;
    j.out0 = y;
    run(&j, (long)c->n * c->co, output_item);
    return 0;
}

// ---- backward ----

// dM[p][co][t] = (A dY Aᵀ)_p for every 4×4 tile of dy[n][co], k = co · N + n.
static KERNEL void output_gradient_item(void *context, long k) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const long co = k / c->n, n = k % c->n;
    const float *plane = j->in0 + ((size_t)n * c->co + co) * c->ho * c->wo;
    const size_t stride = c->sm;
    const int th = c->ho / 4;
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < c->tw; tx++) {
            v8 rows[4], dm[8];
            for (int r = 0; r < 4; r++) rows[r] = load(plane + (size_t)(4 * ty + r) * c->wo + 4 * tx, 4);
            two_sided(8, 4, 4, &AT[0][0], 1, 8, rows, at_rows, dm);
            float *dst = c->m + co * c->tiles + (n * th + ty) * c->tw + tx;
            scatter(dst, stride, dm);
        }
}

// db[co] = Σ dy[·][co], in a fixed order: 8 running sums over each plane's rows of 4 (a plane is whole 4×4 tiles,
// so a multiple of 16 entries), added together at the end.
static KERNEL void bias_item(void *context, long co) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const long plane = (long)c->ho * c->wo;
    v8 sum = {0};
    for (long n = 0; n < c->n; n++) {
        const float *src = j->in0 + (n * c->co + co) * plane;
        for (long l = 0; l < plane; l += 8) sum += load(src + l, 8);
    }
    float total = 0;
    for (int l = 0; l < 8; l++) total += sum[l];
    j->out1[co] = total;
}

// dw[co][ci] = Gᵀ dU G, k = co · Ci + ci.
static KERNEL void weight_gradient_item(void *context, long k) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const size_t stride = c->su;
    const float *src = c->du + k;
    v8 rows[8], dw[5];
    gather(rows, src, stride);
    two_sided(5, 8, 8, &G[0][0], 1, 5, rows, g_rows, dw);
    float *dst = j->out0 + k * 25;
    for (int i = 0; i < 5; i++) memcpy(dst + 5 * i, &dw[i], 5 * sizeof(float));
}

// dx[n][ci] = Σ over its tiles of B dV Bᵀ (overlapping tiles add), k = ci · N + n.
static KERNEL void input_gradient_item(void *context, long k) {
    job *j = context;
    const easgd_winograd *c = j->c;
    const long ci = k / c->n, n = k % c->n;
    float *plane = j->out1 + ((size_t)n * c->ci + ci) * c->h * c->w;
    memset(plane, 0, sizeof(float) * c->h * c->w);
    const size_t stride = c->sv;
    const int th = c->ho / 4;
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < c->tw; tx++) {
            const float *src = c->v + ci * c->tiles + (n * th + ty) * c->tw + tx;
            v8 rows[8], dd[8];
            gather(rows, src, stride);
            two_sided(8, 8, 8, &BT[0][0], 1, 8, rows, bt_rows, dd);
            for (int r = 0; r < 8; r++) {
                float *row = plane + (size_t)(4 * ty + r) * c->w + 4 * tx;
                v8 sum = load(row, 8) + dd[r];
                memcpy(row, &sum, sizeof sum);
            }
        }
}

int easgd_winograd_backward(easgd_winograd *c, const float *dy, float *dw, float *db, float *dx) {
    job j = {.c = c, .in0 = dy, .out1 = db};
    run(&j, c->co, bias_item);
    run(&j, (long)c->n * c->co, output_gradient_item);
    int status = run(&j, 64, product_weights);
    if (status) return status;
    j.out0 = dw;
    run(&j, (long)c->co * c->ci, weight_gradient_item);
    if (!dx) return 0;
    if ((status = run(&j, 64, product_data))) return status;   // dV overwrites V, which is no longer needed
    j.out1 = dx;
    run(&j, (long)c->n * c->ci, input_gradient_item);
    return 0;
}
