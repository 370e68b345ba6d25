// The CKernels module: compute kernels of our own in C, apart from the thin library shims: the Winograd
// F(4×4, 5×5) convolution (its 64 products on oneDNN's sgemm) and the OpenMP loops the layers share (a fixed split,
// and runs of items claimed from a shared counter).
#include "easgd_parallel.h"
#include "easgd_winograd.h"
