// The CDNNL module: the thin shim over oneDNN's convolutions and products, in the network's layouts (and, on
// oneDNN's blocked output, the pooling a convolution carries; see convolution.c). The kernels of our own
// (Winograd, the OpenMP loops) are the CKernels module.
#include "easgd_dnnl.h"
