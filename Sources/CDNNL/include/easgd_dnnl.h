// C shim for oneDNN (Debian libdnnl-dev, 2.6): one 2-D convolution (valid, square kernel, stride s) in Float,
// forward, backward data and backward weights, on the implementation oneDNN picks for this CPU (AVX2 or AVX-512
// JIT kernels on blocked layouts). The caller's tensors stay in the network's layouts: images N×C×H×W, weights
// Co×Ci×k×k, bias Co; the shim reorders to and from oneDNN's layouts inside.
#ifndef EASGD_DNNL_H
#define EASGD_DNNL_H

#include <stddef.h>

typedef struct easgd_dnnl_conv easgd_dnnl_conv;

/// A convolution for exactly `batch` images on exactly `threads` threads: oneDNN fixes how a primitive splits its
/// work (and so the order of its sums) when the primitive is made, from the thread count in effect then, so one
/// built for T threads is only ever run on T. NULL on failure, with the reason in `error` (always terminated).
/// `backward`: 0 builds the forward pass only (a network that only evaluates), 1 also backward weights (a first
/// layer, which computes no input gradient), 2 also backward data.
easgd_dnnl_conv *easgd_dnnl_conv_create(int batch, int in_channels, int height, int width, int out_channels,
                                        int kernel, int stride, int backward, int threads, char *error,
                                        size_t error_size);

/// y = conv(x, w) + b. Keeps x and w in oneDNN's layouts for the backward pass that follows.
/// Returns 0, or a oneDNN status.
int easgd_dnnl_conv_forward(easgd_dnnl_conv *conv, const float *x, const float *w, const float *b, float *y);

/// dw, db (overwritten) and, when dx is not NULL, dx, from dy at the x and w of the last forward pass; a oneDNN
/// status when the convolution was built without the backward pass asked for.
int easgd_dnnl_conv_backward(easgd_dnnl_conv *conv, const float *dy, float *dw, float *db, float *dx);

// Pooled forms, for a convolution followed by 2×2/2 max pooling and the rectifier (conv → pool → ReLU, which the
// network computes in that order): the pooling reads oneDNN's blocked output (N × C/B × H × W × B) directly and
// backward writes the full-size gradient straight into the blocked tensor backward weights reads, so the two
// reorders between blocked and N×C×H×W of the plain forms are not done. Same numbers as the plain forms followed
// by the pooling and rectifier layers: the same primitives, the first maximum in row order (top left, top right,
// bottom left, bottom right), max(0, ·) by `> 0`.

/// The block B of the layouts the pooled forms read and write (8 or 16), or 0 when they cannot run on this
/// convolution (another layout, odd output sides, or a backward-data pass that reads the gradient in another layout).
int easgd_dnnl_conv_pool_block(const easgd_dnnl_conv *conv);

/// y (N × C × H/2 × W/2) = max(0, maxpool(conv(x, w) + b)); codes[i] (one per element of y) = the maximum's place
/// in its window (0–3) | 4 where it was positive. With replay, codes are read instead: y takes the window's entry
/// at the recorded place where the recorded bit is set, else 0.
int easgd_dnnl_conv_forward_pooled(easgd_dnnl_conv *conv, const float *x, const float *w, const float *b, float *y,
                                   unsigned char *codes, int replay);

/// The adjoint: dy (N × C × H/2 × W/2) routed by codes to the convolution's output, then as
/// easgd_dnnl_conv_backward.
int easgd_dnnl_conv_backward_pooled(easgd_dnnl_conv *conv, const float *dy, const unsigned char *codes, float *dw,
                                    float *db, float *dx);

/// Which implementations oneDNN chose, e.g. "fwd jit:avx512_core, bwd-weights jit:avx512_core, bwd-data none".
const char *easgd_dnnl_conv_implementation(const easgd_dnnl_conv *conv);

/// Bytes the shim holds for this convolution (its internal tensors and scratchpads).
size_t easgd_dnnl_conv_bytes(const easgd_dnnl_conv *conv);

void easgd_dnnl_conv_destroy(easgd_dnnl_conv *conv);

/// oneDNN's version, e.g. "2.6.3".
const char *easgd_dnnl_version(void);

/// C ← α·op(A)·op(B) + β·C, row-major, on `threads` threads (oneDNN's dnnl_sgemm). Returns 0 or a oneDNN status.
int easgd_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                const float *b, long ldb, float beta, float *c, long ldc, int threads);

#endif
