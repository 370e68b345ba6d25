// See include/ccodec.h.
#include "ccodec.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CCODEC_X86 1
#endif

int ccodec_has_f16c(void) {
#ifdef CCODEC_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
#else
    return 0;
#endif
}

// ---- the portable half conversions (IEEE 754 binary16, round to nearest even)

static uint16_t half_of(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exponent = (x >> 23) & 0xFFu, mantissa = x & 0x7FFFFFu;
    if (exponent == 0xFFu) return (uint16_t)(sign | 0x7C00u | (mantissa ? 0x200u | (mantissa >> 13) : 0));
    int e = (int)exponent - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7C00u);                    // beyond the largest half: infinite
    if (e <= 0) {                                                      // a subnormal half, or zero
        if (e < -10) return (uint16_t)sign;
        uint32_t m = mantissa | 0x800000u;
        int shift = 14 - e;
        uint32_t half = m >> shift, rest = m & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1u))) half += 1;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (mantissa >> 13), rest = mantissa & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half += 1;   // a carry into the exponent is right
    return (uint16_t)(sign | half);
}

static float float_of(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, x;
    if (exponent == 0x1Fu) {
        x = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent == 0) {
        if (mantissa == 0) {
            x = sign;
        } else {                                                       // a subnormal half is a normal float
            int e = -1;
            do { e += 1; mantissa <<= 1; } while (!(mantissa & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mantissa & 0x3FFu) << 13);
        }
    } else {
        x = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

// The message's bytes have no alignment: halves and scales are copied in and out (little-endian, as the format is).
static void store_half(void *out, size_t k, uint16_t h) { memcpy((unsigned char *)out + 2 * k, &h, 2); }
static uint16_t load_half(const void *in, size_t k) { uint16_t h; memcpy(&h, (const unsigned char *)in + 2 * k, 2); return h; }

#ifdef CCODEC_X86
__attribute__((target("avx,f16c")))
static void fp16_encode_f16c(const float *x, unsigned char *out, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + k), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(out + 2 * k), h);
    }
    for (; k < n; k++) store_half(out, k, half_of(x[k]));
}

__attribute__((target("avx,f16c")))
static void fp16_decode_f16c(const unsigned char *in, float *x, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + 2 * k))));
    for (; k < n; k++) x[k] = float_of(load_half(in, k));
}
#endif

void ccodec_fp16_encode(const float *x, void *out, size_t n) {
#ifdef CCODEC_X86
    static int f16c = -1;
    if (f16c < 0) f16c = ccodec_has_f16c();
    if (f16c) { fp16_encode_f16c(x, out, n); return; }
#endif
    for (size_t k = 0; k < n; k++) store_half(out, k, half_of(x[k]));
}

void ccodec_fp16_decode(const void *in, float *x, size_t n) {
#ifdef CCODEC_X86
    static int f16c = -1;
    if (f16c < 0) f16c = ccodec_has_f16c();
    if (f16c) { fp16_decode_f16c(in, x, n); return; }
#endif
    for (size_t k = 0; k < n; k++) x[k] = float_of(load_half(in, k));
}

// ---- int8: each block's scale, then its levels (AVX2 where present: eight lanes; the same arithmetic)

static float scalar_scale(const float *x, size_t count) {
    float largest = 0;
    int finite = 1;
    for (size_t k = 0; k < count; k++) {
        float a = fabsf(x[k]);
        finite &= a <= 3.40282347e38f;                                 // false for ±∞ and NaN
        largest = a > largest ? a : largest;
    }
    return finite ? largest / 127.0f : NAN;
}

static int8_t scalar_level(float v, float scale) {
    float q = roundf(v / scale);                                       // ties away from zero, as Swift's rounded()
    q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
    return (int8_t)q;
}

#ifdef CCODEC_X86
__attribute__((target("avx2")))
static float avx2_scale(const float *x, size_t count) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), top = _mm256_set1_ps(3.40282347e38f);
    __m256 largest = _mm256_setzero_ps();
    __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    size_t k = 0;
    for (; k + 8 <= count; k += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + k), magnitude);
        finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, top, _CMP_LE_OQ));   // false for ±∞ and NaN
        largest = _mm256_max_ps(largest, a);
    }
    float lanes[8], flags[8];
    _mm256_storeu_ps(lanes, largest);
    _mm256_storeu_ps(flags, finite);
    float m = 0;
    int ok = 1;
    for (int i = 0; i < 8; i++) {
        m = lanes[i] > m ? lanes[i] : m;
        uint32_t bits;
        memcpy(&bits, &flags[i], 4);
        ok &= bits != 0;
    }
    for (; k < count; k++) {
        float a = fabsf(x[k]);
        ok &= a <= 3.40282347e38f;
        m = a > m ? a : m;
    }
    return ok ? m / 127.0f : NAN;
}

__attribute__((target("avx2")))
static void avx2_levels(const float *x, int8_t *levels, size_t count, float scale) {
    const __m256 s = _mm256_set1_ps(scale), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)), magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    size_t k = 0;
    for (; k + 8 <= count; k += 8) {
        __m256 q = _mm256_div_ps(_mm256_loadu_ps(x + k), s);
        // round half away from zero: trunc(q), plus sign(q) where |q − trunc(q)| ≥ ½ (the difference is exact)
        __m256 t = _mm256_round_ps(q, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(q, t), magnitude), half, _CMP_GE_OQ);
        __m256 r = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(q, sign))));
        r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
        __m256i i32 = _mm256_cvtps_epi32(r);
        __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
        _mm_storel_epi64((__m128i *)(levels + k), _mm_packs_epi16(p16, p16));
    }
    for (; k < count; k++) levels[k] = scalar_level(x[k], scale);
}

__attribute__((target("avx2")))
static void avx2_values(const int8_t *levels, float *x, size_t count, float scale) {
    const __m256 s = _mm256_set1_ps(scale);
    size_t k = 0;
    for (; k + 8 <= count; k += 8) {
        __m256i i32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(levels + k)));
        _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_cvtepi32_ps(i32), s));
    }
    for (; k < count; k++) x[k] = (float)levels[k] * scale;
}

static int has_avx2(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return known;
}
#endif

#ifdef CCODEC_X86
#define SIMD_OR(simd_call, scalar_call) (simd ? (simd_call) : (scalar_call))
#else
#define SIMD_OR(simd_call, scalar_call) (scalar_call)
#endif

/// int8 encoding, with AVX2 when `simd` (the CPU has it) and in portable C otherwise.
static void int8_encode(const float *x, void *message, size_t n, size_t block, int simd) {
    int8_t *levels = (int8_t *)message;
    unsigned char *scales = (unsigned char *)message + n;
    for (size_t start = 0, b = 0; start < n; start += block, b++) {
        size_t count = n - start < block ? n - start : block;
        float scale = SIMD_OR(avx2_scale(x + start, count), scalar_scale(x + start, count));
        memcpy(scales + 4 * b, &scale, 4);
        if (!(scale > 0 && isfinite(scale))) {
            memset(levels + start, 0, count);
        } else if (simd) {
#ifdef CCODEC_X86
            avx2_levels(x + start, levels + start, count, scale);
#endif
        } else {
            for (size_t k = 0; k < count; k++) levels[start + k] = scalar_level(x[start + k], scale);
        }
    }
}

static int cpu_has_avx2(void) {
#ifdef CCODEC_X86
    return has_avx2();
#else
    return 0;
#endif
}

void ccodec_int8_encode(const float *x, void *message, size_t n, size_t block) { int8_encode(x, message, n, block, cpu_has_avx2()); }

void ccodec_int8_decode(const void *message, float *x, size_t n, size_t block) {
    const int8_t *levels = (const int8_t *)message;
    const unsigned char *scales = (const unsigned char *)message + n;
    int simd = cpu_has_avx2();
    for (size_t start = 0, b = 0; start < n; start += block, b++) {
        size_t count = n - start < block ? n - start : block;
        float scale;
        memcpy(&scale, scales + 4 * b, 4);
        if (!isfinite(scale)) {
            for (size_t k = 0; k < count; k++) x[start + k] = NAN;
        } else if (simd) {
#ifdef CCODEC_X86
            avx2_values(levels + start, x + start, count, scale);
#endif
        } else {
            for (size_t k = 0; k < count; k++) x[start + k] = (float)levels[start + k] * scale;
        }
    }
}

// ---- the portable paths, always (the tests hold them to the Swift reference on machines with SIMD too)

void ccodec_fp16_encode_portable(const float *x, void *out, size_t n) {
    for (size_t k = 0; k < n; k++) store_half(out, k, half_of(x[k]));
}

void ccodec_fp16_decode_portable(const void *in, float *x, size_t n) {
    for (size_t k = 0; k < n; k++) x[k] = float_of(load_half(in, k));
}

void ccodec_int8_encode_portable(const float *x, void *message, size_t n, size_t block) { int8_encode(x, message, n, block, 0); }
