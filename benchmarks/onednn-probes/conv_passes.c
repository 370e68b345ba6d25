// oneDNN convolution passes on their own (the numbers of benchmarks/README.md "ReLU after pooling, and what else
// was measured"): forward, backward weights and backward data of one convolution, batch NB (default 128), on the
// implementation oneDNN picks for the CPU, best of 7, inputs uniform in [-0.5, 0.5).
//   gcc -O2 conv_passes.c -o conv_passes -ldnnl
//   OMP_NUM_THREADS=1 [DNNL_MAX_CPU_ISA=AVX2] ./conv_passes IC H OC K [PAD]
// Conv 2 of the CIFAR net: 64 12 128 5. Its backward data as a forward convolution: 128 8 64 5 4 (only the first
// line counts; GFLOP/s there counts the padded work). Its backward weights as a forward convolution over
// transposed tensors: NB=64 ./conv_passes 128 12 128 8 (conv 1's: NB=3 ./conv_passes 128 28 64 24), first line.
#define REPS 7
#include "probe.h"
int main(int argc,char**argv){
  int N=getenv("NB")?atoi(getenv("NB")):128,IC=atoi(argv[1]),H=atoi(argv[2]),OC=atoi(argv[3]),K=atoi(argv[4]),P=argc>5?atoi(argv[5]):0;
  T(dnnl_engine_create(&eng,dnnl_cpu,0));T(dnnl_stream_create(&st,eng,0));
  int OH=H+2*P-K+1;
  dnnl_dims_t sd={N,IC,H,H},dd={N,OC,OH,OH},wd={OC,IC,K,K},bd={OC},str={1,1},pad={P,P};
  dnnl_memory_desc_t s,d,w,b;
  T(dnnl_memory_desc_init_by_tag(&s,4,sd,dnnl_f32,dnnl_format_tag_any));T(dnnl_memory_desc_init_by_tag(&d,4,dd,dnnl_f32,dnnl_format_tag_any));
  T(dnnl_memory_desc_init_by_tag(&w,4,wd,dnnl_f32,dnnl_format_tag_any));T(dnnl_memory_desc_init_by_tag(&b,1,bd,dnnl_f32,dnnl_x));
  dnnl_convolution_desc_t fd,bwd,bdd; dnnl_primitive_desc_t fpd,wpd,dpd;
  T(dnnl_convolution_forward_desc_init(&fd,dnnl_forward_training,dnnl_convolution_direct,&s,&w,&b,&d,str,pad,pad));
  T(dnnl_primitive_desc_create(&fpd,&fd,NULL,eng,NULL));
  T(dnnl_convolution_backward_weights_desc_init(&bwd,dnnl_convolution_direct,&s,&w,&b,&d,str,pad,pad));
  T(dnnl_primitive_desc_create(&wpd,&bwd,NULL,eng,fpd));
  T(dnnl_convolution_backward_data_desc_init(&bdd,dnnl_convolution_direct,&s,&w,&d,str,pad,pad));
  T(dnnl_primitive_desc_create(&dpd,&bdd,NULL,eng,fpd));
#define MD(pd,q,i) dnnl_primitive_desc_query_md(pd,q,i)
  const char*nm;
  dnnl_primitive_t f,bw,bd_; T(dnnl_primitive_create(&f,fpd));T(dnnl_primitive_create(&bw,wpd));T(dnnl_primitive_create(&bd_,dpd));
  dnnl_memory_t ms=mk(MD(fpd,dnnl_query_src_md,0)),mw=mk(MD(fpd,dnnl_query_weights_md,0)),mb=mk(&b),md_=mk(MD(fpd,dnnl_query_dst_md,0));
  dnnl_exec_arg_t fa[4]={{DNNL_ARG_SRC,ms},{DNNL_ARG_WEIGHTS,mw},{DNNL_ARG_BIAS,mb},{DNNL_ARG_DST,md_}};
  dnnl_primitive_desc_query(fpd,dnnl_query_impl_info_str,0,&nm);
  double gf=2.0*N*OC*IC*K*K*OH*OH*1e-9;
  double tf=timeit(f,4,fa); printf("fwd %s %.2f ms %.1f GF/s\n",nm,tf,gf/tf*1e3);
  dnnl_memory_t mdw=mk(MD(wpd,dnnl_query_diff_weights_md,0)),mdb=mk(&b),mdd=mk(MD(wpd,dnnl_query_diff_dst_md,0)),msw=mk(MD(wpd,dnnl_query_src_md,0));
  dnnl_exec_arg_t wa[4]={{DNNL_ARG_SRC,msw},{DNNL_ARG_DIFF_DST,mdd},{DNNL_ARG_DIFF_WEIGHTS,mdw},{DNNL_ARG_DIFF_BIAS,mdb}};
  dnnl_primitive_desc_query(wpd,dnnl_query_impl_info_str,0,&nm);
  double tw=timeit(bw,4,wa); printf("bwd-w %s %.2f ms %.1f GF/s\n",nm,tw,gf/tw*1e3);
  dnnl_memory_t mdd2=mk(MD(dpd,dnnl_query_diff_dst_md,0)),mw2=mk(MD(dpd,dnnl_query_weights_md,0)),mds=mk(MD(dpd,dnnl_query_diff_src_md,0));
  dnnl_exec_arg_t da[3]={{DNNL_ARG_DIFF_DST,mdd2},{DNNL_ARG_WEIGHTS,mw2},{DNNL_ARG_DIFF_SRC,mds}};
  dnnl_primitive_desc_query(dpd,dnnl_query_impl_info_str,0,&nm);
  double td=timeit(bd_,3,da); printf("bwd-d %s %.2f ms %.1f GF/s\n",nm,td,gf/td*1e3);
  return 0;
}
