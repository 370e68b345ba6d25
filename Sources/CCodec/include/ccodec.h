// The codecs' hot loops in C (Elastic/Codec.swift states the formats and their error bounds): Float32 to half and
// back with the CPU's F16C conversions where present (a portable path otherwise), and the int8 format's two
// passes (each block's largest magnitude, then the levels), compiled for AVX-512, AVX2 and a baseline, chosen at
// run time. Every function computes what the Swift scalar code computes, bit for bit (the tests compare them).
#ifndef CCODEC_H
#define CCODEC_H

#include <stddef.h>
#include <stdint.h>

/// Half of each value (into 2n bytes, little-endian, no alignment), rounded to nearest (ties to even); overflow becomes infinite, NaN stays NaN.
void ccodec_fp16_encode(const float *x, void *out, size_t n);
/// Float32 of each half (exact).
void ccodec_fp16_decode(const void *in, float *x, size_t n);
/// The int8 format with nearest rounding: per block of `block` values the scale max|x|/127 (NaN when the block holds
/// a value that is not finite), then round(x/scale) (ties away from zero) clamped to ±127, or 0 when the scale is 0
/// or not finite. `message` gets the format's n + 4⌈n/block⌉ bytes: the levels, then the scales (little-endian
/// Float32; the message has no alignment).
void ccodec_int8_encode(const float *x, void *message, size_t n, size_t block);
/// level · scale per value, NaN where the block's scale is not finite.
void ccodec_int8_decode(const void *message, float *x, size_t n, size_t block);
/// The portable paths of the encoders and decoders above, whatever the CPU (for the tests).
void ccodec_fp16_encode_portable(const float *x, void *out, size_t n);
void ccodec_fp16_decode_portable(const void *in, float *x, size_t n);
void ccodec_int8_encode_portable(const float *x, void *message, size_t n, size_t block);
/// 1 when this CPU has the F16C conversions (the fp16 functions then use them).
int ccodec_has_f16c(void);

#endif
