// oneDNN max pooling 2×2/2 on its own, forward (with workspace) and backward, and the reorder of the pooled tensor
// to N×C×H×W, batch 128, best of 9 (benchmarks/README.md "ReLU after pooling, and what else was measured").
//   gcc -O2 pooling.c -o pooling -ldnnl
//   OMP_NUM_THREADS=1 [DNNL_MAX_CPU_ISA=AVX2] ./pooling C H BLOCK     (BLOCK 8 or 16: nChw8c/nChw16c; 0: nchw)
// Pool 1 of the CIFAR net in AVX2's layout: 64 24 8; pool 2: 128 8 8.
#define REPS 9
#include "probe.h"
int main(int argc,char**argv){
  int N=128,C=atoi(argv[1]),H=atoi(argv[2]); dnnl_format_tag_t tag=atoi(argv[3])==8?dnnl_nChw8c:atoi(argv[3])==16?dnnl_nChw16c:dnnl_nchw;
  T(dnnl_engine_create(&eng,dnnl_cpu,0));T(dnnl_stream_create(&st,eng,0));
  dnnl_dims_t sd={N,C,H,H},dd={N,C,H/2,H/2},k={2,2},s={2,2},p={0,0};
  dnnl_memory_desc_t src,dst,dstu;
  T(dnnl_memory_desc_init_by_tag(&src,4,sd,dnnl_f32,tag));T(dnnl_memory_desc_init_by_tag(&dst,4,dd,dnnl_f32,tag));
  T(dnnl_memory_desc_init_by_tag(&dstu,4,dd,dnnl_f32,dnnl_nchw));
  dnnl_pooling_desc_t fd,bd; dnnl_primitive_desc_t fpd,bpd; const char*nm;
  T(dnnl_pooling_forward_desc_init(&fd,dnnl_forward_training,dnnl_pooling_max,&src,&dst,s,k,p,p));
  T(dnnl_primitive_desc_create(&fpd,&fd,NULL,eng,NULL));
  T(dnnl_pooling_backward_desc_init(&bd,dnnl_pooling_max,&src,&dst,s,k,p,p));
  T(dnnl_primitive_desc_create(&bpd,&bd,NULL,eng,fpd));
  const dnnl_memory_desc_t*ws=dnnl_primitive_desc_query_md(fpd,dnnl_query_workspace_md,0);
  dnnl_primitive_t f,b; T(dnnl_primitive_create(&f,fpd));T(dnnl_primitive_create(&b,bpd));
  dnnl_memory_t ms=mk(&src),md=mk(&dst),mw=mk(ws),mds=mk(&src),mdd=mk(&dst),mu=mk(&dstu);
  dnnl_exec_arg_t fa[3]={{DNNL_ARG_SRC,ms},{DNNL_ARG_DST,md},{DNNL_ARG_WORKSPACE,mw}};
  dnnl_primitive_desc_query(fpd,dnnl_query_impl_info_str,0,&nm);
  printf("pool fwd %s %.3f ms  (ws %zu bytes)\n",nm,timeit(f,3,fa),dnnl_memory_desc_get_size(ws));
  dnnl_exec_arg_t ba[3]={{DNNL_ARG_DIFF_DST,mdd},{DNNL_ARG_DIFF_SRC,mds},{DNNL_ARG_WORKSPACE,mw}};
  dnnl_primitive_desc_query(bpd,dnnl_query_impl_info_str,0,&nm);
  printf("pool bwd %s %.3f ms\n",nm,timeit(b,3,ba));
  dnnl_primitive_desc_t rpd; dnnl_primitive_t r;
  T(dnnl_reorder_primitive_desc_create(&rpd,&dst,eng,&dstu,eng,NULL)); T(dnnl_primitive_create(&r,rpd));
  dnnl_exec_arg_t ra[2]={{DNNL_ARG_SRC,md},{DNNL_ARG_DST,mu}};
  printf("reorder pooled -> nchw %.3f ms\n",timeit(r,2,ra));
  return 0;
}
