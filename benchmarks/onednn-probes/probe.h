// What both oneDNN probes share: one CPU engine and stream, a status check that exits, a tensor filled with
// uniform numbers in [-0.5, 0.5), and the best wall time of REPS executions of a primitive, in ms.
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define T(c) do{dnnl_status_t s_=(c); if(s_){printf("fail %s %d\n",#c,s_);exit(1);}}while(0)
static dnnl_engine_t eng; static dnnl_stream_t st;
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static dnnl_memory_t mk(const dnnl_memory_desc_t*md){dnnl_memory_t m;T(dnnl_memory_create(&m,md,eng,DNNL_MEMORY_ALLOCATE));
  float*p;dnnl_memory_get_data_handle(m,(void**)&p);size_t n=dnnl_memory_desc_get_size(md)/4;for(size_t i=0;i<n;i++)p[i]=(rand()%100)/100.f-0.5f;return m;}
static double timeit(dnnl_primitive_t p,int n,dnnl_exec_arg_t*a){double best=1e9;for(int r=0;r<REPS;r++){double t=now();T(dnnl_primitive_execute(p,st,n,a));dnnl_stream_wait(st);t=now()-t;if(t<best)best=t;}return best*1e3;}
