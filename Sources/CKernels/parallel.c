// See include/easgd_parallel.h. GOMP_parallel is libgomp's entry for `#pragma omp parallel` (the Swift toolchain's
// clang would target LLVM's OpenMP runtime instead, so the pragma is not used).

#include "easgd_parallel.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

static _Thread_local int threads_of_this_thread = 1;
void easgd_set_threads(int threads) { threads_of_this_thread = threads > 0 ? threads : 1; }
int easgd_threads(void) { return threads_of_this_thread; }

typedef struct {
    void (*body)(void *, int);
    void *context;
    int chunks;
} job;

static void run_chunks(void *data) {
    const job *j = data;
    // The team may be smaller than asked for: every chunk still runs, exactly once.
    for (int k = omp_get_thread_num(); k < j->chunks; k += omp_get_num_threads()) j->body(j->context, k);
}

void easgd_parallel(int chunks, void *context, void (*body)(void *context, int chunk)) {
    if (chunks <= 1) {
        if (chunks == 1) body(context, 0);
        return;
    }
    job j = {body, context, chunks};
    GOMP_parallel(run_chunks, &j, (unsigned)chunks, 0);
}

typedef struct {
    void (*item)(void *, long);
    void *context;
    long count, run_length;
    long next;              // the first unclaimed item (atomic)
} items_job;

static void claim_runs(void *data, int chunk) {
    (void)chunk;
    items_job *j = data;
    for (;;) {
        const long start = __atomic_fetch_add(&j->next, j->run_length, __ATOMIC_RELAXED);
        if (start >= j->count) return;
        const long end = start + j->run_length < j->count ? start + j->run_length : j->count;
        for (long k = start; k < end; k++) j->item(j->context, k);
    }
}

void easgd_parallel_items(long count, void *context, void (*item)(void *context, long k)) {
    const int threads = easgd_threads();
    const int chunks = (int)(count < threads ? count : threads);
    const long claims = (long)chunks * 16;
    items_job j = {item, context, count, count >= claims ? count / claims : 1, 0};
    if (chunks <= 1) {
        for (long k = 0; k < count; k++) item(context, k);
        return;
    }
    easgd_parallel(chunks, &j, claim_runs);
}

