// The CDNNL module: oneDNN convolutions and products, and the OpenMP pool they share with the layers.
#include "easgd_dnnl.h"
#include "easgd_parallel.h"
