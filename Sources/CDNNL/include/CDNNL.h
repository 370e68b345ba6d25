// The CDNNL module: oneDNN convolutions and products, the Winograd convolution on oneDNN's sgemm, and the OpenMP
// pool they share with the layers.
#include "easgd_dnnl.h"
#include "easgd_parallel.h"
#include "easgd_winograd.h"
