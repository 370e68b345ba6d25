// See easgd_image.h.
#include "easgd_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static void copy_message(tjhandle handle, char *message, size_t capacity) {
    if (capacity == 0) return;
    snprintf(message, capacity, "%s", tjGetErrorStr2(handle));
}

int easgd_jpeg_decode(const uint8_t *data, size_t size, uint8_t **rgb, int *width, int *height, int *kind,
                      long max_pixels, char *message, size_t capacity) {
    *rgb = NULL;
    if (capacity > 0) message[0] = 0;
    tjhandle handle = tjInitDecompress();
    if (!handle) {
        snprintf(message, capacity, "cannot start the JPEG decoder");
        return EASGD_JPEG_ERROR;
    }
    int w = 0, h = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(handle, data, (unsigned long)size, &w, &h, &subsampling, &colorspace) != 0) {
        copy_message(handle, message, capacity);
        tjDestroy(handle);
        return EASGD_JPEG_ERROR;
    }
    if (w <= 0 || h <= 0 || (long)w * (long)h > max_pixels) {
        snprintf(message, capacity, "%d x %d pixels: outside 1 ... %ld pixels", w, h, max_pixels);
        tjDestroy(handle);
        return EASGD_JPEG_ERROR;
    }
    int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    *kind = cmyk ? EASGD_JPEG_CMYK : (colorspace == TJCS_GRAY ? EASGD_JPEG_GREY : EASGD_JPEG_RGB);
    int components = cmyk ? 4 : 3;
    uint8_t *pixels = malloc((size_t)w * (size_t)h * (size_t)components);
    if (!pixels) {
        snprintf(message, capacity, "out of memory for %d x %d pixels", w, h);
        tjDestroy(handle);
        return EASGD_JPEG_ERROR;
    }
    int status = EASGD_JPEG_OK;
    if (tjDecompress2(handle, data, (unsigned long)size, pixels, w, 0, h, cmyk ? TJPF_CMYK : TJPF_RGB, 0) != 0) {
        copy_message(handle, message, capacity);
        if (tjGetErrorCode(handle) == TJERR_WARNING) {
            // libjpeg's "Premature end of JPEG file": the rest of the image is filled in grey.
            status = strstr(tjGetErrorStr2(handle), "Premature end") ? EASGD_JPEG_TRUNCATED : EASGD_JPEG_WARNING;
        } else {
            status = EASGD_JPEG_ERROR;
        }
    }
    tjDestroy(handle);
    if (status == EASGD_JPEG_ERROR || status == EASGD_JPEG_TRUNCATED) {
        free(pixels);
        return status;
    }
    if (cmyk) {
        // Adobe's CMYK JPEGs store 255 − ink; Pillow reads them so ("CMYK;I") and converts to RGB as
        // R = (255 − K) − (C·(255 − K))/255 in its rounding; with stored values c = 255 − C, k = 255 − K.
        size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = pixels + 4 * i;
            int nk = p[3];
            for (int c = 0; c < 3; c++) {
                int ink = 255 - p[c];
                int t = ink * nk + 128;
                int v = nk - (((t >> 8) + t) >> 8);
                pixels[3 * i + c] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
            }
        }
        uint8_t *shrunk = realloc(pixels, n * 3);
        if (shrunk) pixels = shrunk;
    }
    *rgb = pixels;
    *width = w;
    *height = h;
    return status;
}

int easgd_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality,
                      uint8_t **jpeg, unsigned long *size) {
    tjhandle handle = tjInitCompress();
    if (!handle) return -1;
    int format = components == 1 ? TJPF_GRAY : (components == 4 ? TJPF_CMYK : TJPF_RGB);
    int subsampling = components == 1 ? TJSAMP_GRAY : TJSAMP_420;
    *jpeg = NULL;
    *size = 0;
    int r = tjCompress2(handle, pixels, width, 0, height, format, jpeg, size, subsampling, quality, 0);
    tjDestroy(handle);
    return r;
}

void easgd_jpeg_free(uint8_t *jpeg) { tjFree(jpeg); }

// Pillow's libImaging/Resample.c, for the triangle filter (support 1): precompute_coeffs and
// normalize_coeffs_8bpc, then ImagingResampleHorizontal_8bpc / ImagingResampleVertical_8bpc.
enum { PRECISION_BITS = 32 - 8 - 2 };

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

/// For each output index: the first input index and the count, and ksize fixed-point weights.
static int coefficients(int in_size, int out_size, int **bounds_out, int **weights_out, int *ksize_out) {
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1 ? 1 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = malloc((size_t)out_size * ksize * sizeof(double));
    int *bounds = malloc((size_t)out_size * 2 * sizeof(int));
    int *weights = malloc((size_t)out_size * ksize * sizeof(int));
    if (!kk || !bounds || !weights) {
        free(kk); free(bounds); free(weights);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = kk + (size_t)xx * ksize;
        int x = 0;
        for (; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++) if (ww != 0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++) {
        double v = kk[i] * (1 << PRECISION_BITS);
        weights[i] = (int)(v + (kk[i] < 0 ? -0.5 : 0.5));
    }
    free(kk);
    *bounds_out = bounds;
    *weights_out = weights;
    *ksize_out = ksize;
    return 0;
}

static inline uint8_t clip8(int v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/// One pass along rows (horizontal: out_w of in_w per row, `rows` rows) or columns (vertical: out_h of in_h).
static int pass_horizontal(const uint8_t *in, int in_w, int rows, int channels, uint8_t *out, int out_w) {
    int *bounds, *weights, ksize;
    if (coefficients(in_w, out_w, &bounds, &weights, &ksize) != 0) return -1;
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in + (size_t)y * in_w * channels;
        uint8_t *d = out + (size_t)y * out_w * channels;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1];
            const int *k = weights + (size_t)xx * ksize;
            if (channels == 3) {
                // Pillow's three accumulators: the channels of a pixel side by side.
                const uint8_t *p = src + xmin * 3;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++, p += 3) {
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                d[xx * 3] = clip8(s0);
                d[xx * 3 + 1] = clip8(s1);
                d[xx * 3 + 2] = clip8(s2);
                continue;
            }
            for (int c = 0; c < channels; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++) ss += src[(x + xmin) * channels + c] * k[x];
                d[xx * channels + c] = clip8(ss);
            }
        }
    }
    free(bounds);
    free(weights);
    return 0;
}

static int pass_vertical(const uint8_t *in, int in_h, int width, int channels, uint8_t *out, int out_h) {
    int *bounds, *weights, ksize;
    if (coefficients(in_h, out_h, &bounds, &weights, &ksize) != 0) return -1;
    size_t stride = (size_t)width * channels;
    int *acc = malloc(stride * sizeof(int));
    if (!acc) {
        free(bounds);
        free(weights);
        return -1;
    }
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
        const int *k = weights + (size_t)yy * ksize;
        uint8_t *d = out + (size_t)yy * stride;
        // Whole rows at a time (the compiler vectorises it); integer sums, so the same as Pillow's pixel by pixel.
        for (size_t i = 0; i < stride; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *row = in + (size_t)(y + ymin) * stride;
            int w = k[y];
            for (size_t i = 0; i < stride; i++) acc[i] += row[i] * w;
        }
        for (size_t i = 0; i < stride; i++) d[i] = clip8(acc[i]);
    }
    free(acc);
    free(bounds);
    free(weights);
    return 0;
}

int easgd_resize_bilinear(const uint8_t *in, int in_w, int in_h, int channels, uint8_t *out, int out_w, int out_h,
                          uint8_t *scratch) {
    int need_h = out_w != in_w, need_v = out_h != in_h;
    if (!need_h && !need_v) {
        memcpy(out, in, (size_t)in_w * in_h * channels);
        return 0;
    }
    // Pillow 13's order: the vertical pass first when the height shrinks by more than twice what the width does.
    int horizontal_first = !((in_h - out_h) > 0 && (in_h - out_h) > (in_w - out_w) * 2);
    if (!need_v) return pass_horizontal(in, in_w, in_h, channels, out, out_w);
    if (!need_h) return pass_vertical(in, in_h, in_w, channels, out, out_h);
    if (horizontal_first) {
        if (pass_horizontal(in, in_w, in_h, channels, scratch, out_w) != 0) return -1;
        return pass_vertical(scratch, in_h, out_w, channels, out, out_h);
    }
    if (pass_vertical(in, in_h, in_w, channels, scratch, out_h) != 0) return -1;
    return pass_horizontal(scratch, in_w, out_h, channels, out, out_w);
}
