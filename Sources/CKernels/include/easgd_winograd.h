// Winograd convolution F(4×4, 5×5) in Float: a valid 5×5 convolution, stride 1, whose output height and width
// are multiples of 4, computed tile by tile (8×8 input tiles at stride 4, 4×4 output tiles) as 64 matrix products
// over channels, one per point of the 8×8 transform domain, with 4·4·25 / 64 = 6.25× fewer multiplications than
// the direct convolution. Interpolation points 0, ±1, ±2, ±1/2 and ∞ (the matrices are in winograd.c).
// Backward is the exact adjoint of the forward computation: the gradient of what the forward pass computed.
// Layouts are the network's: images N×C×H×W, weights Co×Ci×5×5, bias Co.
#ifndef EASGD_WINOGRAD_H
#define EASGD_WINOGRAD_H

#include <stddef.h>

typedef struct easgd_winograd easgd_winograd;

/// 1 when this CPU has what the transforms need (AVX2 and FMA), else 0.
int easgd_winograd_cpu_supported(void);

/// Bytes the working tensors of a convolution of this shape take (the transformed weights, inputs and products).
size_t easgd_winograd_bytes_for(int batch, int in_channels, int height, int width, int out_channels);

/// A convolution for exactly `batch` images; NULL, with the reason in `error` (always terminated), when the
/// shape does not fit (output sides not multiples of 4), the CPU lacks AVX2 and FMA, or memory is short.
/// Its results do not depend on the thread count it runs on.
easgd_winograd *easgd_winograd_create(int batch, int in_channels, int height, int width, int out_channels,
                                      char *error, size_t error_size);

/// y = conv(x, w) + b on `easgd_threads()` threads. Keeps the transformed x and w for the backward pass.
/// Returns 0, or a oneDNN sgemm status.
int easgd_winograd_forward(easgd_winograd *conv, const float *x, const float *w, const float *b, float *y);

/// dw, db (overwritten) and, when dx is not NULL, dx (overwritten), from dy at the x and w of the last forward.
int easgd_winograd_backward(easgd_winograd *conv, const float *dy, float *dw, float *db, float *dx);

size_t easgd_winograd_bytes(const easgd_winograd *conv);

void easgd_winograd_destroy(easgd_winograd *conv);

#endif
