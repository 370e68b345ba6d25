// The Winograd F(4×4, 5×5) shim on its own (the standalone numbers of benchmarks/README.md "Winograd"): forward
// and backward of one convolution against a direct convolution in double written here (y and dx on the first
// 4 images, dW and db on all), then the best of REPS timed forward and backward passes. Inputs uniform in [-1, 1),
// weights uniform scaled by sqrt(6 / fan-in), dy uniform.
//   clang -O2 -I../../Sources/CKernels/include winograd_check.c ../../Sources/CKernels/winograd.c \
//         ../../Sources/CKernels/parallel.c -ldnnl -lgomp -lm -o winograd_check
//   OMP_NUM_THREADS=1 [DNNL_MAX_CPU_ISA=AVX2] ./winograd_check N IC H OC [REPS] [THREADS]
// Conv 2 of the CIFAR net: 128 64 12 128; conv 1 (3 channels, where Winograd does not pay): 128 3 28 64.
#include "easgd_winograd.h"
#include "easgd_parallel.h"
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static unsigned long long s=88172645463325252ULL;
static double rnd(void){s^=s<<13;s^=s>>7;s^=s<<17;return (s>>11)*(1.0/9007199254740992.0)*2-1;}
int main(int argc,char**argv){
  int N=atoi(argv[1]),Ci=atoi(argv[2]),H=atoi(argv[3]),Co=atoi(argv[4]); int reps=argc>5?atoi(argv[5]):5;
  easgd_set_threads(argc>6?atoi(argv[6]):1);
  int Ho=H-4; size_t nx=(size_t)N*Ci*H*H, nw=(size_t)Co*Ci*25, ny=(size_t)N*Co*Ho*Ho;
  float *x=malloc(nx*4),*w=malloc(nw*4),*b=malloc(Co*4),*y=malloc(ny*4),*dy=malloc(ny*4),*dx=malloc(nx*4),*dw=malloc(nw*4),*db=malloc(Co*4);
  for(size_t i=0;i<nx;i++)x[i]=rnd(); for(size_t i=0;i<nw;i++)w[i]=rnd()*sqrt(6.0/(Ci*25)); for(int i=0;i<Co;i++)b[i]=rnd();
  for(size_t i=0;i<ny;i++)dy[i]=rnd();
  char err[256]; easgd_winograd*c=easgd_winograd_create(N,Ci,H,H,Co,err,256); if(!c){puts(err);return 1;}
  easgd_winograd_forward(c,x,w,b,y); easgd_winograd_backward(c,dy,dw,db,dx);
  // direct in double for the first 2 images (forward, dx), all for dw on first 2 images? dw needs all images: do full
  double ey=0,sy=0,ex=0,sx=0,ew=0,sw=0,eb=0,sb=0;
  int NC=N<4?N:4;
  double *rdw=calloc(nw,8),*rdb=calloc(Co,8);
  for(int n=0;n<N;n++){
   double *rdx=calloc((size_t)Ci*H*H,8);
   for(int o=0;o<Co;o++){ for(int i=0;i<Ho;i++)for(int jj=0;jj<Ho;jj++){
      double g=dy[(((size_t)n*Co+o)*Ho+i)*Ho+jj]; rdb[o]+=g;
      double acc=b[o];
      for(int ci=0;ci<Ci;ci++)for(int ky=0;ky<5;ky++)for(int kx=0;kx<5;kx++){
        size_t xi=(((size_t)n*Ci+ci)*H+i+ky)*H+jj+kx, wi=(((size_t)o*Ci+ci)*5+ky)*5+kx;
        if(n<NC) acc+=(double)x[xi]*w[wi];
        rdw[wi]+=g*x[xi]; if(n<NC) rdx[xi-(size_t)n*Ci*H*H]+=g*w[wi];}
      if(n<NC){double yy=y[(((size_t)n*Co+o)*Ho+i)*Ho+jj]; ey=fmax(ey,fabs(yy-acc)); sy=fmax(sy,fabs(acc));}
   }}
   if(n<NC) for(size_t i=0;i<(size_t)Ci*H*H;i++){ex=fmax(ex,fabs(dx[(size_t)n*Ci*H*H+i]-rdx[i]));sx=fmax(sx,fabs(rdx[i]));}
   free(rdx);
  }
  for(size_t i=0;i<nw;i++){ew=fmax(ew,fabs(dw[i]-rdw[i]));sw=fmax(sw,fabs(rdw[i]));}
  for(int i=0;i<Co;i++){eb=fmax(eb,fabs(db[i]-rdb[i]));sb=fmax(sb,fabs(rdb[i]));}
  printf("rel max err: y %.2e dx %.2e dw %.2e db %.2e\n",ey/sy,ex/sx,ew/sw,eb/sb);
  double bf=1e9,bb=1e9;
  for(int r=0;r<reps;r++){double t0=now();easgd_winograd_forward(c,x,w,b,y);double t1=now();easgd_winograd_backward(c,dy,dw,db,dx);double t2=now();
    if(t1-t0<bf)bf=t1-t0; if(t2-t1<bb)bb=t2-t1;}
  double fl=2.0*N*Co*Ho*Ho*Ci*25;

  printf("fwd %.2f ms bwd %.2f ms (direct-equivalent %.1f / %.1f GFLOP/s)\n",bf*1e3,bb*1e3,fl/bf*1e-9,2*fl/bb*1e-9);
  return 0;}
