/* OpenMP entry points that also exist when nnlite is built without OpenMP. */
#ifndef NNLITE_OMP_COMPAT_H
#define NNLITE_OMP_COMPAT_H
#ifdef _OPENMP
#include <omp.h>
#define NNLITE_HAVE_OPENMP 1
#else
#define NNLITE_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_procs(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif
#endif
