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

/// Which implementations oneDNN chose, e.g. "fwd jit:avx512_core, bwd-weights jit:avx512_core, bwd-data none".
const char *easgd_dnnl_conv_implementation(const easgd_dnnl_conv *conv);

/// Bytes the shim holds for this convolution (its internal tensors and scratchpads).
size_t easgd_dnnl_conv_bytes(const easgd_dnnl_conv *conv);

void easgd_dnnl_conv_destroy(easgd_dnnl_conv *conv);

/// oneDNN's version, e.g. "2.6.3".
const char *easgd_dnnl_version(void);

#endif
