// C shim for OpenBLAS's CBLAS and the reference LAPACKE (Debian: libopenblas-dev, liblapacke-dev).
// Debian's OpenBLAS does not carry LAPACKE, so both libraries are linked (see module.modulemap);
// the generic -lblas/-llapack alternatives are never linked.
#ifndef EASGD_COPENBLAS_SHIM_H
#define EASGD_COPENBLAS_SHIM_H

#include <cblas.h>
#include <lapacke.h>

// `lapack_int` is a macro in lapacke_config.h, which Swift does not import: give it a real type.
typedef lapack_int easgd_lapack_int;

#endif
