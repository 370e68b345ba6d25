// One thread pool for a step's work: OpenMP's (libgomp, the runtime Debian's oneDNN is built on). oneDNN's
// convolutions and products run on it, and so do the layers' element-wise loops, through easgd_parallel: two
// runtimes (OpenMP's spinning workers next to another pool's) on two cores slow each other down.
#ifndef EASGD_PARALLEL_H
#define EASGD_PARALLEL_H

/// The compute threads of the calling thread's work (1 until set). Per thread, so that concurrent networks (the
/// engine's workers, or tests running side by side) each keep their own: a oneDNN primitive's split of the work,
/// and so the bits of its results, depend on it.
void easgd_set_threads(int threads);
int easgd_threads(void);

/// Calls body(context, k) once for every k in 0 ..< chunks, on up to `chunks` OpenMP threads of the calling
/// thread's team; returns when all have returned.
void easgd_parallel(int chunks, void *context, void (*body)(void *context, int chunk));

/// Calls item(context, k) once for every k in 0 ..< count, on the calling thread's compute threads: each thread
/// claims runs of consecutive items (count / (16 · threads), at least 1) from a shared counter as it goes, so a
/// thread the machine slows down (another process on its core) does fewer instead of holding the others at the
/// end. Which thread does an item varies from call to call: for items whose results do not depend on it.
void easgd_parallel_items(long count, void *context, void (*item)(void *context, long k));

#endif
