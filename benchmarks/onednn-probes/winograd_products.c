// The Winograd path's three products on their own (benchmarks/README.md "Winograd"): for conv 2 of the CIFAR net at
// batch 128, 64 products per pass of M_p = U_p · V_p (128 × 512 × 64, NN), dU_p = dM_p · V_pᵀ (128 × 64 × 512, NT)
// and dV_p = U_pᵀ · dM_p (64 × 512 × 128, TN), on oneDNN's and on OpenBLAS's sgemm, best of 5.
//   gcc -O2 winograd_products.c -I/usr/include/x86_64-linux-gnu/openblas-pthread -ldnnl -lopenblas -o winograd_products
//   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 [DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell] ./winograd_products
#include <oneapi/dnnl/dnnl.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(){
  int shapes[3][5]={{128,512,64,'N','N'},{128,64,512,'N','T'},{64,512,128,'T','N'}};
  float *a=malloc(4<<22),*b=malloc(4<<22),*c=malloc(4<<22);
  for(int i=0;i<(1<<22);i++){a[i]=(i%7)*1e-3;b[i]=(i%5)*1e-3;}
  for(int s=0;s<3;s++){int M=shapes[s][0],N=shapes[s][1],K=shapes[s][2];char ta=shapes[s][3],tb=shapes[s][4];
    long lda= ta=='N'?K:M, ldb= tb=='N'?N:K;
    for(int lib=0;lib<2;lib++){double best=1e9;
      for(int r=0;r<5;r++){double t0=now();
        for(int p=0;p<64;p++){ float*A=a+p*65536,*B=b+p*65536,*C=c+p*65536;
          if(lib==0) dnnl_sgemm(ta,tb,M,N,K,1,A,lda,B,ldb,0,C,N);
          else cblas_sgemm(CblasRowMajor,ta=='N'?CblasNoTrans:CblasTrans,tb=='N'?CblasNoTrans:CblasTrans,M,N,K,1,A,lda,B,ldb,0,C,N);}
        double t=now()-t0; if(t<best)best=t;}
      printf("%dx%dx%d %c%c %s: %.2f ms (64 products), %.1f GFLOP/s\n",M,N,K,ta,tb,lib?"openblas":"dnnl",best*1e3,64*2.0*M*N*K/best*1e-9);}}
}
