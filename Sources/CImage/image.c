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

// PNG, for the files ILSVRC-2012 stores under a .JPEG name: 8-bit greyscale, RGB, palette, grey + alpha and RGBA,
// and 16-bit RGB and RGBA (the high byte, as Pillow reads them into RGB), not interlaced; the alpha dropped and the
// palette looked up, as Pillow's convert("RGB") does. Every chunk's CRC is checked.
#include <zlib.h>

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
}

int easgd_png_decode(const uint8_t *data, size_t size, uint8_t **rgb, int *width, int *height, long max_pixels,
                     char *message, size_t capacity) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    *rgb = NULL;
    if (capacity > 0) message[0] = 0;
    if (size < 8 || memcmp(data, signature, 8) != 0) {
        snprintf(message, capacity, "not a PNG signature");
        return EASGD_JPEG_ERROR;
    }
    size_t at = 8;
    uint32_t w = 0, h = 0;
    int depth = 0, type = -1, interlace = 0, have_header = 0, ended = 0;
    uint8_t palette[768];
    int palette_size = 0;
    uint8_t *idat = NULL;
    size_t idat_size = 0, idat_capacity = 0;
    int status = EASGD_JPEG_ERROR;
    while (at + 12 <= size) {
        uint32_t length = be32(data + at);
        const uint8_t *chunk = data + at + 4;
        if (length > size - at - 12) {
            snprintf(message, capacity, "a chunk runs past the end of the file");
            status = EASGD_JPEG_TRUNCATED;
            goto done;
        }
        uint32_t crc = (uint32_t)crc32(0, chunk, length + 4);
        if (crc != be32(chunk + 4 + length)) {
            snprintf(message, capacity, "chunk %.4s: CRC mismatch", (const char *)chunk);
            goto done;
        }
        const uint8_t *body = chunk + 4;
        if (memcmp(chunk, "IHDR", 4) == 0 && length == 13) {
            w = be32(body);
            h = be32(body + 4);
            depth = body[8];
            type = body[9];
            interlace = body[12];
            have_header = 1;
        } else if (memcmp(chunk, "PLTE", 4) == 0 && length % 3 == 0 && length <= 768) {
            memcpy(palette, body, length);
            palette_size = (int)(length / 3);
        } else if (memcmp(chunk, "IDAT", 4) == 0) {
            if (idat_size + length > idat_capacity) {
                size_t grown = (idat_size + length) * 2;
                uint8_t *bigger = realloc(idat, grown);
                if (!bigger) {
                    snprintf(message, capacity, "out of memory");
                    goto done;
                }
                idat = bigger;
                idat_capacity = grown;
            }
            memcpy(idat + idat_size, body, length);
            idat_size += length;
        } else if (memcmp(chunk, "IEND", 4) == 0) {
            ended = 1;
            break;
        }
        at += 12 + (size_t)length;
    }
    if (!have_header) {
        snprintf(message, capacity, "no IHDR chunk");
        goto done;
    }
    if (!ended) {
        snprintf(message, capacity, "no IEND chunk (truncated)");
        status = EASGD_JPEG_TRUNCATED;
        goto done;
    }
    if (w == 0 || h == 0 || (long)w * (long)h > max_pixels) {
        snprintf(message, capacity, "%u x %u pixels: outside 1 ... %ld pixels", w, h, max_pixels);
        goto done;
    }
    int channels = type == 0 ? 1 : type == 2 ? 3 : type == 3 ? 1 : type == 4 ? 2 : type == 6 ? 4 : 0;
    int supported = channels > 0 && interlace == 0 &&
                    (depth == 8 || (depth == 16 && (type == 2 || type == 6)));
    if (!supported || (type == 3 && palette_size == 0)) {
        snprintf(message, capacity, "PNG of colour type %d, depth %d%s: not read", type, depth, interlace ? ", interlaced" : "");
        goto done;
    }
    size_t bpp = (size_t)channels * (size_t)(depth / 8);
    size_t row = bpp * w;
    size_t raw_size = (row + 1) * h;
    uint8_t *raw = malloc(raw_size);
    if (!raw) {
        snprintf(message, capacity, "out of memory");
        goto done;
    }
    uLongf got = (uLongf)raw_size;
    int z = uncompress(raw, &got, idat ? idat : (const uint8_t *)"", (uLong)idat_size);
    if (z != Z_OK || got != raw_size) {
        snprintf(message, capacity, "image data: %s", z == Z_OK ? "too short" : zError(z));
        free(raw);
        status = z == Z_BUF_ERROR || (z == Z_OK && got < raw_size) ? EASGD_JPEG_TRUNCATED : EASGD_JPEG_ERROR;
        goto done;
    }
    // Undo the filters row by row, in place (each row's filter byte first).
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *line = raw + (size_t)y * (row + 1);
        uint8_t filter = line[0];
        uint8_t *cur = line + 1;
        const uint8_t *prev = y > 0 ? raw + (size_t)(y - 1) * (row + 1) + 1 : NULL;
        if (filter > 4) {
            snprintf(message, capacity, "row %u: filter type %d", y, filter);
            free(raw);
            goto done;
        }
        for (size_t i = 0; i < row; i++) {
            int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0, c = prev && i >= bpp ? prev[i - bpp] : 0;
            int v = cur[i];
            switch (filter) {
                case 1: v += a; break;
                case 2: v += b; break;
                case 3: v += (a + b) / 2; break;
                case 4: v += paeth(a, b, c); break;
                default: break;
            }
            cur[i] = (uint8_t)v;
        }
    }
    uint8_t *out = malloc((size_t)w * h * 3);
    if (!out) {
        snprintf(message, capacity, "out of memory");
        free(raw);
        goto done;
    }
    size_t step = (size_t)(depth / 8);     // 16 bits: the high (first) byte
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *src = raw + (size_t)y * (row + 1) + 1;
        uint8_t *dst = out + (size_t)y * w * 3;
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *p = src + x * bpp;
            if (type == 2 || type == 6) {
                dst[3 * x] = p[0]; dst[3 * x + 1] = p[step]; dst[3 * x + 2] = p[2 * step];
            } else if (type == 3) {
                if (p[0] < palette_size) {
                    dst[3 * x] = palette[3 * p[0]]; dst[3 * x + 1] = palette[3 * p[0] + 1]; dst[3 * x + 2] = palette[3 * p[0] + 2];
                } else {
                    dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = 0;     // an index past the palette: black
                }
            } else {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = p[0];
            }
        }
    }
    free(raw);
    *rgb = out;
    *width = (int)w;
    *height = (int)h;
    status = EASGD_JPEG_OK;
done:
    free(idat);
    return status;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *body, uint32_t length) {
    put32(out, length);
    memcpy(out + 4, type, 4);
    if (length) memcpy(out + 8, body, length);
    put32(out + 8 + length, (uint32_t)crc32(0, out + 4, length + 4));
    return 12 + (size_t)length;
}

int easgd_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **png, unsigned long *size) {
    *png = NULL;
    *size = 0;
    int type = channels == 1 ? 0 : channels == 3 ? 2 : channels == 4 ? 6 : -1;
    if (type < 0 || width <= 0 || height <= 0) return -1;
    size_t row = (size_t)width * channels, raw_size = (row + 1) * height;
    uint8_t *raw = malloc(raw_size);
    uLongf packed_size = compressBound((uLong)raw_size);
    uint8_t *packed = malloc(packed_size);
    uint8_t *out = malloc(packed_size + 64);
    if (!raw || !packed || !out) { free(raw); free(packed); free(out); return -1; }
    for (int y = 0; y < height; y++) {
        // Row y takes filter y mod 5: every filter the decoder undoes.
        int filter = y % 5;
        const uint8_t *cur = pixels + (size_t)y * row, *prev = y > 0 ? cur - row : NULL;
        uint8_t *line = raw + (size_t)y * (row + 1);
        line[0] = (uint8_t)filter;
        for (size_t i = 0; i < row; i++) {
            int a = i >= (size_t)channels ? cur[i - channels] : 0, b = prev ? prev[i] : 0;
            int c = prev && i >= (size_t)channels ? prev[i - channels] : 0;
            int predicted = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : filter == 4 ? paeth(a, b, c) : 0;
            line[1 + i] = (uint8_t)(cur[i] - predicted);
        }
    }
    int z = compress(packed, &packed_size, raw, (uLong)raw_size);
    free(raw);
    if (z != Z_OK) { free(packed); free(out); return -1; }
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    uint8_t header[13];
    put32(header, (uint32_t)width);
    put32(header + 4, (uint32_t)height);
    header[8] = 8; header[9] = (uint8_t)type; header[10] = 0; header[11] = 0; header[12] = 0;
    size_t n = 8;
    memcpy(out, signature, 8);
    n += put_chunk(out + n, "IHDR", header, 13);
    n += put_chunk(out + n, "IDAT", packed, (uint32_t)packed_size);
    n += put_chunk(out + n, "IEND", NULL, 0);
    free(packed);
    *png = out;
    *size = n;
    return 0;
}
