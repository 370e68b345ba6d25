// C shim for Open MPI (Debian: libopenmpi-dev, openmpi-bin). MPI_COMM_WORLD, MPI_FLOAT, MPI_BYTE,
// MPI_STATUS_IGNORE, MPI_ANY_SOURCE and MPI_ANY_TAG are macros over Open MPI's internal symbols, which Swift
// cannot import: expose them as functions.
#ifndef EASGD_CMPI_SHIM_H
#define EASGD_CMPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm easgd_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype easgd_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype easgd_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Status *easgd_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int easgd_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int easgd_mpi_any_tag(void) { return MPI_ANY_TAG; }
static inline int easgd_mpi_success(void) { return MPI_SUCCESS; }

#endif
