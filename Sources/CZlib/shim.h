// C shim for zlib (Debian: zlib1g-dev): the data loaders read IDX and CIFAR files, plain or gzipped,
// through gzopen/gzread, which pass uncompressed files through unchanged.
#ifndef EASGD_CZLIB_SHIM_H
#define EASGD_CZLIB_SHIM_H

#include <zlib.h>

#endif
