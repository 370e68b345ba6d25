// oneDNN convolution shim (see include/easgd_dnnl.h). One engine per process; each convolution owns its stream,
// primitives and internal tensors, so convolutions of different networks run concurrently from different threads.
// Every tensor crosses between the caller's layout and oneDNN's through a "port": the caller's memory (its pointer
// set on each call) and, where oneDNN wants another layout, an internal tensor and the reorder between them.

#include "easgd_dnnl.h"
#include "easgd_parallel.h"

#include <oneapi/dnnl/dnnl.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void omp_set_num_threads(int);

static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void make_engine(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

typedef struct {
    dnnl_memory_t user;       // the caller's tensor (handle set per call)
    dnnl_memory_t internal;   // == user when the layouts agree
    dnnl_primitive_t reorder; // user → internal (inputs) or internal → user (outputs); NULL when they agree
    int output;
    int owns_internal;        // an internal tensor exists (and is this port's)
} port;

struct easgd_dnnl_conv {
    dnnl_stream_t stream;
    dnnl_primitive_t forward, backward_weights, backward_data;
    port x, w, b, y;                // forward
    port dy_w, dw, db;              // backward weights (diff_dst, diff_weights, diff_bias)
    port x_w;                       // the forward's src in backward-weights' layout (user = forward's internal src)
    port dy_d, w_d, dx;             // backward data
    int share_dy;                   // backward data reads dy_w's tensor (the same layout)
    char implementation[256];
    size_t bytes;
    int threads;
    int batch, channels, height, width;  // of the output
    int pool_block;                 // see easgd_dnnl_conv_pool_block
    port pooled, dpooled;           // the pooled forms: N × C × H/2 × W/2 to and from the same blocked layout
};

#define TRY(call) do { dnnl_status_t status_ = (call); if (status_ != dnnl_success) { \
    snprintf(error, error_size, "oneDNN: %s failed (status %d)", #call, (int)status_); goto fail; } } while (0)

static dnnl_status_t port_make(port *p, const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *internal_md,
                               int output, size_t *bytes) {
    memset(p, 0, sizeof *p);
    p->output = output;
    dnnl_status_t s = dnnl_memory_create(&p->user, user_md, engine, DNNL_MEMORY_NONE);
    if (s != dnnl_success) return s;
    if (dnnl_memory_desc_equal(user_md, internal_md)) {
        p->internal = p->user;
        return dnnl_success;
    }
    if ((s = dnnl_memory_create(&p->internal, internal_md, engine, DNNL_MEMORY_ALLOCATE)) != dnnl_success) return s;
    p->owns_internal = 1;
    *bytes += dnnl_memory_desc_get_size(internal_md);
    dnnl_primitive_desc_t pd;
    s = output ? dnnl_reorder_primitive_desc_create(&pd, internal_md, engine, user_md, engine, NULL)
               : dnnl_reorder_primitive_desc_create(&pd, user_md, engine, internal_md, engine, NULL);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_create(&p->reorder, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/// A port whose "user" side is an existing memory (another port's internal tensor).
static dnnl_status_t port_from(port *p, dnnl_memory_t source, const dnnl_memory_desc_t *internal_md, size_t *bytes) {
    memset(p, 0, sizeof *p);
    const dnnl_memory_desc_t *source_md;
    dnnl_status_t s = dnnl_memory_get_memory_desc(source, &source_md);
    if (s != dnnl_success) return s;
    if (dnnl_memory_desc_equal(source_md, internal_md)) {
        p->internal = source;
        return dnnl_success;
    }
    p->user = source;
    if ((s = dnnl_memory_create(&p->internal, internal_md, engine, DNNL_MEMORY_ALLOCATE)) != dnnl_success) return s;
    p->owns_internal = 1;
    *bytes += dnnl_memory_desc_get_size(internal_md);
    dnnl_primitive_desc_t pd;
    if ((s = dnnl_reorder_primitive_desc_create(&pd, source_md, engine, internal_md, engine, NULL)) != dnnl_success)
        return s;
    s = dnnl_primitive_create(&p->reorder, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static void port_free(port *p, int owns_user) {
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->owns_internal) dnnl_memory_destroy(p->internal);
    if (p->user && owns_user) dnnl_memory_destroy(p->user);
    memset(p, 0, sizeof *p);
}

static dnnl_status_t reorder(dnnl_stream_t stream, port *p) {
    if (!p->reorder) return dnnl_success;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, p->output ? p->internal : p->user},
                               {DNNL_ARG_DST, p->output ? p->user : p->internal}};
    return dnnl_primitive_execute(p->reorder, stream, 2, args);
}

/// Points the port at the caller's tensor and, for an input, brings it into oneDNN's layout.
static dnnl_status_t port_in(dnnl_stream_t stream, port *p, const void *data) {
    dnnl_status_t s = dnnl_memory_set_data_handle_v2(p->user, (void *)data, stream);
    if (s != dnnl_success) return s;
    return reorder(stream, p);
}

/// 8 or 16 when the port has its own tensor in N × C/B × H × W × B (nChw8c or nChw16c), else 0.
static int block_of(const port *p, const dnnl_dims_t dims) {
    if (!p->owns_internal) return 0;
    const dnnl_memory_desc_t *md;
    if (dnnl_memory_get_memory_desc(p->internal, &md) != dnnl_success) return 0;
    const int blocks[2] = {16, 8};
    const dnnl_format_tag_t tags[2] = {dnnl_nChw16c, dnnl_nChw8c};
    for (int k = 0; k < 2; k++) {
        dnnl_memory_desc_t blocked;
        if (dims[1] % blocks[k] != 0) continue;
        if (dnnl_memory_desc_init_by_tag(&blocked, 4, dims, dnnl_f32, tags[k]) != dnnl_success) continue;
        if (dnnl_memory_desc_equal(md, &blocked)) return blocks[k];
    }
    return 0;
}

static const char *impl_name(const_dnnl_primitive_desc_t pd) {
    const char *name = "unknown";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success) return "unknown";
    return name;
}

static size_t scratchpad_bytes(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

easgd_dnnl_conv *easgd_dnnl_conv_create(int batch, int in_channels, int height, int width, int out_channels,
                                        int kernel, int stride, int backward, int threads, char *error,
                                        size_t error_size) {
    if (error_size > 0) error[0] = 0;
    easgd_dnnl_conv *c = calloc(1, sizeof *c);
    omp_set_num_threads(threads);
    dnnl_primitive_desc_t fpd = NULL, wpd = NULL, dpd = NULL;
    if (!c) { snprintf(error, error_size, "out of memory"); return NULL; }
    pthread_once(&engine_once, make_engine);
    TRY(engine_status);
    TRY(dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags));
    c->threads = threads;

    const int out_h = (height - kernel) / stride + 1, out_w = (width - kernel) / stride + 1;
    dnnl_dims_t src_dims = {batch, in_channels, height, width}, dst_dims = {batch, out_channels, out_h, out_w};
    dnnl_dims_t w_dims = {out_channels, in_channels, kernel, kernel}, b_dims = {out_channels};
    dnnl_dims_t strides = {stride, stride}, padding = {0, 0};
    dnnl_memory_desc_t src_any, dst_any, w_any, b_md, src_user, dst_user, w_user;
    TRY(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x));
    TRY(dnnl_memory_desc_init_by_tag(&src_user, 4, src_dims, dnnl_f32, dnnl_nchw));
    TRY(dnnl_memory_desc_init_by_tag(&dst_user, 4, dst_dims, dnnl_f32, dnnl_nchw));
    TRY(dnnl_memory_desc_init_by_tag(&w_user, 4, w_dims, dnnl_f32, dnnl_oihw));

    dnnl_convolution_desc_t fd, wd, dd;
    TRY(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src_any, &w_any,
                                           &b_md, &dst_any, strides, padding, padding));
    TRY(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    if (backward >= 1) {
        TRY(dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src_any, &w_any, &b_md,
                                                        &dst_any, strides, padding, padding));
        TRY(dnnl_primitive_desc_create(&wpd, &wd, NULL, engine, fpd));
    }
    if (backward >= 2) {
        TRY(dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &src_any, &w_any, &dst_any,
                                                     strides, padding, padding));
        TRY(dnnl_primitive_desc_create(&dpd, &dd, NULL, engine, fpd));
    }

    size_t *bytes = &c->bytes;
#define MD(pd, what) dnnl_primitive_desc_query_md(pd, what, 0)
    TRY(port_make(&c->x, &src_user, MD(fpd, dnnl_query_src_md), 0, bytes));
    TRY(port_make(&c->w, &w_user, MD(fpd, dnnl_query_weights_md), 0, bytes));
    TRY(port_make(&c->b, &b_md, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 1), 0, bytes));
    TRY(port_make(&c->y, &dst_user, MD(fpd, dnnl_query_dst_md), 1, bytes));
    if (wpd) {
        TRY(port_make(&c->dy_w, &dst_user, MD(wpd, dnnl_query_diff_dst_md), 0, bytes));
        TRY(port_make(&c->dw, &w_user, MD(wpd, dnnl_query_diff_weights_md), 1, bytes));
        TRY(port_make(&c->db, &b_md, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 1), 1, bytes));
        TRY(port_from(&c->x_w, c->x.internal, MD(wpd, dnnl_query_src_md), bytes));
    }
    if (dpd) {
        c->share_dy = dnnl_memory_desc_equal(MD(dpd, dnnl_query_diff_dst_md), MD(wpd, dnnl_query_diff_dst_md));
        if (!c->share_dy) TRY(port_make(&c->dy_d, &dst_user, MD(dpd, dnnl_query_diff_dst_md), 0, bytes));
        TRY(port_from(&c->w_d, c->w.internal, MD(dpd, dnnl_query_weights_md), bytes));
        TRY(port_make(&c->dx, &src_user, MD(dpd, dnnl_query_diff_src_md), 1, bytes));
    }
    c->batch = batch; c->channels = out_channels; c->height = out_h; c->width = out_w;
    c->pool_block = out_h % 2 == 0 && out_w % 2 == 0 ? block_of(&c->y, dst_dims) : 0;
    if (wpd && c->pool_block && block_of(&c->dy_w, dst_dims) != c->pool_block) c->pool_block = 0;
    if (dpd && !c->share_dy) c->pool_block = 0;
    if (!__builtin_cpu_supports("avx2")) c->pool_block = 0;     // the pooled loops are compiled for AVX2
    if (c->pool_block) {
        dnnl_dims_t pooled_dims = {batch, out_channels, out_h / 2, out_w / 2};
        dnnl_memory_desc_t pooled_user, pooled_blocked;
        TRY(dnnl_memory_desc_init_by_tag(&pooled_user, 4, pooled_dims, dnnl_f32, dnnl_nchw));
        TRY(dnnl_memory_desc_init_by_tag(&pooled_blocked, 4, pooled_dims, dnnl_f32,
                                         c->pool_block == 16 ? dnnl_nChw16c : dnnl_nChw8c));
        TRY(port_make(&c->pooled, &pooled_user, &pooled_blocked, 1, bytes));
        if (wpd) TRY(port_make(&c->dpooled, &pooled_user, &pooled_blocked, 0, bytes));
    }
    TRY(dnnl_primitive_create(&c->forward, fpd));
    if (wpd) TRY(dnnl_primitive_create(&c->backward_weights, wpd));
    if (dpd) TRY(dnnl_primitive_create(&c->backward_data, dpd));
    *bytes += scratchpad_bytes(fpd) + (wpd ? scratchpad_bytes(wpd) : 0) + (dpd ? scratchpad_bytes(dpd) : 0);
    snprintf(c->implementation, sizeof c->implementation, "fwd %s, bwd-weights %s, bwd-data %s", impl_name(fpd),
             wpd ? impl_name(wpd) : "none", dpd ? impl_name(dpd) : "none");
    dnnl_primitive_desc_destroy(fpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    if (dpd) dnnl_primitive_desc_destroy(dpd);
    return c;
fail:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    if (dpd) dnnl_primitive_desc_destroy(dpd);
    easgd_dnnl_conv_destroy(c);
    return NULL;
}

#define RUN(call) do { dnnl_status_t status_ = (call); if (status_ != dnnl_success) return (int)status_; } while (0)

int easgd_dnnl_conv_forward(easgd_dnnl_conv *c, const float *x, const float *w, const float *b, float *y) {
    omp_set_num_threads(c->threads);
    RUN(port_in(c->stream, &c->x, x));
    RUN(port_in(c->stream, &c->w, w));
    RUN(port_in(c->stream, &c->b, b));
    RUN(dnnl_memory_set_data_handle_v2(c->y.user, y, c->stream));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->x.internal}, {DNNL_ARG_WEIGHTS, c->w.internal},
                               {DNNL_ARG_BIAS, c->b.internal}, {DNNL_ARG_DST, c->y.internal}};
    RUN(dnnl_primitive_execute(c->forward, c->stream, 4, args));
    RUN(reorder(c->stream, &c->y));
    RUN(dnnl_stream_wait(c->stream));
    return 0;
}

/// Backward weights and, with dx, backward data, once dy_w's tensor holds the output gradient; dy (the caller's,
/// N×C×H×W) is read again only by a backward-data pass that wants another layout (never in the pooled forms).
static int backward_from_dy_w(easgd_dnnl_conv *c, const float *dy, float *dw, float *db, float *dx) {
    RUN(reorder(c->stream, &c->x_w));
    RUN(dnnl_memory_set_data_handle_v2(c->dw.user, dw, c->stream));
    RUN(dnnl_memory_set_data_handle_v2(c->db.user, db, c->stream));
    dnnl_exec_arg_t wargs[4] = {{DNNL_ARG_SRC, c->x_w.internal}, {DNNL_ARG_DIFF_DST, c->dy_w.internal},
                                {DNNL_ARG_DIFF_WEIGHTS, c->dw.internal}, {DNNL_ARG_DIFF_BIAS, c->db.internal}};
    RUN(dnnl_primitive_execute(c->backward_weights, c->stream, 4, wargs));
    RUN(reorder(c->stream, &c->dw));
    RUN(reorder(c->stream, &c->db));
    if (dx) {
        if (!c->share_dy) RUN(port_in(c->stream, &c->dy_d, dy));
        RUN(reorder(c->stream, &c->w_d));
        RUN(dnnl_memory_set_data_handle_v2(c->dx.user, dx, c->stream));
        dnnl_exec_arg_t dargs[3] = {{DNNL_ARG_DIFF_DST, c->share_dy ? c->dy_w.internal : c->dy_d.internal}, {DNNL_ARG_WEIGHTS, c->w_d.internal},
                                    {DNNL_ARG_DIFF_SRC, c->dx.internal}};
        RUN(dnnl_primitive_execute(c->backward_data, c->stream, 3, dargs));
        RUN(reorder(c->stream, &c->dx));
    }
    RUN(dnnl_stream_wait(c->stream));
    return 0;
}

int easgd_dnnl_conv_backward(easgd_dnnl_conv *c, const float *dy, float *dw, float *db, float *dx) {
    if (!c->backward_weights || (dx && !c->backward_data)) return (int)dnnl_invalid_arguments;
    omp_set_num_threads(c->threads);
    RUN(port_in(c->stream, &c->dy_w, dy));
    return backward_from_dy_w(c, dy, dw, db, dx);
}

int easgd_dnnl_conv_pool_block(const easgd_dnnl_conv *c) { return c->pool_block; }

// The pooled forms' element loops, on blocked tensors only (the pooled tensor's reorders to and from N×C×H×W are
// oneDNN's), split over the (image, channel block) pairs, one chunk per thread, 8 lanes at a time in AVX2 (the
// compiler left the 8-lane loops of nChw8c scalar, 5× slower).
typedef struct {
    const easgd_dnnl_conv *c;
    float *full;                  // the convolution's output (forward) or its gradient (backward), blocked
    float *pooled;                // the pooled output (forward) or its gradient (backward), blocked the same way
    unsigned char *codes;         // one per element of the pooled tensor, in its blocked order
    int backward, replay;
} pool_job;

static inline __attribute__((always_inline, target("avx2"))) void pool_forward_pair(const pool_job *j, long q,
                                                                                     const int B) {
    const int H = j->c->height, W = j->c->width, ho = H / 2, wo = W / 2;
    const float *restrict base = j->full + q * H * W * B;
    float *restrict out = j->pooled + q * ho * wo * B;
    unsigned char *restrict codes = j->codes + q * ho * wo * B;
    for (int oy = 0; oy < ho; oy++) {
        for (int ox = 0; ox < wo; ox++) {
            const float *restrict p0 = base + ((long)(2 * oy) * W + 2 * ox) * B, *restrict p1 = p0 + B,
                        *restrict p2 = p0 + (long)W * B, *restrict p3 = p2 + B;
            float *restrict v = out + ((long)oy * wo + ox) * B;
            unsigned char *restrict k = codes + ((long)oy * wo + ox) * B;
            if (j->replay) {
                for (int l = 0; l < B; l++) {
                    const int place = k[l] & 3;
                    const float m = place == 0 ? p0[l] : place == 1 ? p1[l] : place == 2 ? p2[l] : p3[l];
                    v[l] = (k[l] & 4) ? m : 0.0f;
                }
                continue;
            }
            // The first maximum in the order p0, p1, p2, p3 (a later one must be greater), then max(0, ·) by > 0.
            for (int l = 0; l < B; l += 8) {
                __m256 m = _mm256_loadu_ps(p0 + l);
                __m256i place = _mm256_setzero_si256();
                const float *rest[3] = {p1, p2, p3};
                for (int r = 0; r < 3; r++) {
                    const __m256 a = _mm256_loadu_ps(rest[r] + l), greater = _mm256_cmp_ps(a, m, _CMP_GT_OQ);
                    m = _mm256_blendv_ps(m, a, greater);
                    place = _mm256_blendv_epi8(place, _mm256_set1_epi32(r + 1), _mm256_castps_si256(greater));
                }
                const __m256 positive = _mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ);
                _mm256_storeu_ps(v + l, _mm256_and_ps(m, positive));
                const __m256i code = _mm256_or_si256(place, _mm256_and_si256(_mm256_castps_si256(positive),
                                                                              _mm256_set1_epi32(4)));
                const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(code), _mm256_extracti128_si256(code, 1));
                _mm_storel_epi64((__m128i *)(k + l), _mm_packus_epi16(words, words));
            }
        }
    }
}

static inline __attribute__((always_inline, target("avx2"))) void pool_backward_pair(const pool_job *j, long q,
                                                                                      const int B) {
    const int H = j->c->height, W = j->c->width, ho = H / 2, wo = W / 2;
    float *restrict base = j->full + q * H * W * B;
    const float *restrict dy = j->pooled + q * ho * wo * B;
    const unsigned char *restrict codes = j->codes + q * ho * wo * B;
    for (int oy = 0; oy < ho; oy++) {
        for (int ox = 0; ox < wo; ox++) {
            float *restrict p0 = base + ((long)(2 * oy) * W + 2 * ox) * B, *restrict p1 = p0 + B,
                  *restrict p2 = p0 + (long)W * B, *restrict p3 = p2 + B;
            const float *restrict g = dy + ((long)oy * wo + ox) * B;
            const unsigned char *restrict k = codes + ((long)oy * wo + ox) * B;
            float *restrict at[4] = {p0, p1, p2, p3};
            for (int l = 0; l < B; l += 8) {
                const __m256i code = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(k + l)));
                const __m256i four = _mm256_set1_epi32(4);
                const __m256i positive = _mm256_cmpeq_epi32(_mm256_and_si256(code, four), four);
                // 0 + g, as the plain forms' zeroed gradient plus the routed one (a −0 becomes +0 there too).
                const __m256 routed = _mm256_and_ps(_mm256_add_ps(_mm256_setzero_ps(), _mm256_loadu_ps(g + l)),
                                                    _mm256_castsi256_ps(positive));
                const __m256i place = _mm256_and_si256(code, _mm256_set1_epi32(3));
                for (int r = 0; r < 4; r++) {
                    const __m256i here = _mm256_cmpeq_epi32(place, _mm256_set1_epi32(r));
                    _mm256_storeu_ps(at[r] + l, _mm256_and_ps(routed, _mm256_castsi256_ps(here)));
                }
            }
        }
    }
}

__attribute__((target("avx2"))) static void pool_chunk(void *context, int chunk) {
    const pool_job *j = context;
    const long pairs = (long)j->c->batch * (j->c->channels / j->c->pool_block), chunks = j->c->threads;
    for (long q = pairs * chunk / chunks; q < pairs * (chunk + 1) / chunks; q++) {
        const int B = j->c->pool_block;
        if (j->backward) { if (B == 16) pool_backward_pair(j, q, 16); else pool_backward_pair(j, q, 8); }
        else { if (B == 16) pool_forward_pair(j, q, 16); else pool_forward_pair(j, q, 8); }
    }
}

/// Pools `full` into `pooled` (forward) or routes `pooled` back into `full` (backward), both blocked, on the
/// convolution's threads.
static dnnl_status_t pool_run(easgd_dnnl_conv *c, dnnl_memory_t full, dnnl_memory_t pooled, unsigned char *codes,
                              int backward, int replay) {
    void *f, *p;
    dnnl_status_t s = dnnl_memory_get_data_handle(full, &f);
    if (s == dnnl_success) s = dnnl_memory_get_data_handle(pooled, &p);
    if (s != dnnl_success) return s;
    pool_job j = {c, f, p, codes, backward, replay};
    easgd_parallel(c->threads, &j, pool_chunk);
    return dnnl_success;
}

int easgd_dnnl_conv_forward_pooled(easgd_dnnl_conv *c, const float *x, const float *w, const float *b, float *y,
                                   unsigned char *codes, int replay) {
    if (!c->pool_block) return (int)dnnl_invalid_arguments;
    omp_set_num_threads(c->threads);
    RUN(port_in(c->stream, &c->x, x));
    RUN(port_in(c->stream, &c->w, w));
    RUN(port_in(c->stream, &c->b, b));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->x.internal}, {DNNL_ARG_WEIGHTS, c->w.internal},
                               {DNNL_ARG_BIAS, c->b.internal}, {DNNL_ARG_DST, c->y.internal}};
    RUN(dnnl_primitive_execute(c->forward, c->stream, 4, args));
    RUN(dnnl_stream_wait(c->stream));
    RUN(pool_run(c, c->y.internal, c->pooled.internal, codes, 0, replay));
    RUN(dnnl_memory_set_data_handle_v2(c->pooled.user, y, c->stream));
    RUN(reorder(c->stream, &c->pooled));
    RUN(dnnl_stream_wait(c->stream));
    return 0;
}

int easgd_dnnl_conv_backward_pooled(easgd_dnnl_conv *c, const float *dy, const unsigned char *codes, float *dw,
                                    float *db, float *dx) {
    if (!c->pool_block || !c->backward_weights || (dx && !c->backward_data)) return (int)dnnl_invalid_arguments;
    omp_set_num_threads(c->threads);
    RUN(port_in(c->stream, &c->dpooled, dy));
    RUN(dnnl_stream_wait(c->stream));
    RUN(pool_run(c, c->dy_w.internal, c->dpooled.internal, (unsigned char *)codes, 1, 0));
    return backward_from_dy_w(c, NULL, dw, db, dx);     // share_dy holds wherever pool_block is set
}

const char *easgd_dnnl_conv_implementation(const easgd_dnnl_conv *c) { return c->implementation; }
size_t easgd_dnnl_conv_bytes(const easgd_dnnl_conv *c) { return c->bytes; }

void easgd_dnnl_conv_destroy(easgd_dnnl_conv *c) {
    if (!c) return;
    if (c->forward) dnnl_primitive_destroy(c->forward);
    if (c->backward_weights) dnnl_primitive_destroy(c->backward_weights);
    if (c->backward_data) dnnl_primitive_destroy(c->backward_data);
    port_free(&c->x_w, 0);
    port_free(&c->w_d, 0);
    port *owned[] = {&c->x, &c->w, &c->b, &c->y, &c->dy_w, &c->dw, &c->db, &c->dy_d, &c->dx, &c->pooled, &c->dpooled};
    for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) port_free(owned[k], 1);
    if (c->stream) dnnl_stream_destroy(c->stream);
    free(c);
}

const char *easgd_dnnl_version(void) {
    static char text[32];
    const dnnl_version_t *v = dnnl_version();
    snprintf(text, sizeof text, "%d.%d.%d", v->major, v->minor, v->patch);
    return text;
}

int easgd_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                const float *b, long ldb, float beta, float *c, long ldc, int threads) {
    omp_set_num_threads(threads);
    return (int)dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
