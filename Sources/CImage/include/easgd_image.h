// JPEG decoding (libjpeg-turbo's TurboJPEG API, Debian libturbojpeg0-dev) and the resize of the ImageNet import:
// the image library's part of `easgd data import`, at the edge.
#ifndef EASGD_IMAGE_H
#define EASGD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/// What the decoder found (the import reports every one that is not plain RGB).
enum easgd_jpeg_kind {
    EASGD_JPEG_RGB = 0,        // a colour JPEG (YCbCr or RGB)
    EASGD_JPEG_GREY = 1,       // greyscale, replicated into three channels
    EASGD_JPEG_CMYK = 2        // CMYK or YCCK, converted to RGB as Pillow's convert("RGB") does (Adobe's inverted storage)
};

/// The outcome of a decode.
enum easgd_jpeg_status {
    EASGD_JPEG_OK = 0,
    EASGD_JPEG_WARNING = 1,    // decoded, but libjpeg warned (the message says what); a premature end is reported as TRUNCATED
    EASGD_JPEG_TRUNCATED = 2,  // the data ends before the image does (libjpeg filled the rest): not usable
    EASGD_JPEG_ERROR = 3       // not decodable (the message says why)
};

/// Decodes `size` bytes of JPEG into `*rgb` (malloc'ed, width × height × 3 bytes, row by row, interleaved; the caller
/// frees it), refusing images with more than `max_pixels` pixels. `message` (capacity bytes) receives libjpeg's
/// message on a warning or an error. On EASGD_JPEG_ERROR and EASGD_JPEG_TRUNCATED nothing is allocated.
int easgd_jpeg_decode(const uint8_t *data, size_t size, uint8_t **rgb, int *width, int *height, int *kind,
                      long max_pixels, char *message, size_t capacity);

/// Decodes PNG bytes (ILSVRC-2012 has PNG data under a .JPEG name) into `*rgb` as easgd_jpeg_decode does: 8-bit
/// greyscale, RGB, palette, grey + alpha, RGBA and 16-bit RGB/RGBA (the high byte), not interlaced; alpha dropped,
/// palette looked up (Pillow's convert("RGB")); every chunk's CRC checked. EASGD_JPEG_OK, _TRUNCATED or _ERROR.
int easgd_png_decode(const uint8_t *data, size_t size, uint8_t **rgb, int *width, int *height, long max_pixels,
                     char *message, size_t capacity);

/// Encodes an interleaved image of `components` (1 grey, 3 RGB, 4 CMYK stored inverted as Adobe's) at `quality`
/// with 4:2:0 subsampling for colour into `*jpeg` (free with easgd_jpeg_free): for tests that make their own files.
int easgd_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality,
                      uint8_t **jpeg, unsigned long *size);
void easgd_jpeg_free(uint8_t *jpeg);

/// Encodes an 8-bit image of 1, 3 or 4 interleaved channels as PNG (row y filtered with filter y mod 5) into `*png`
/// (free with free()): for tests and the fuzzer.
int easgd_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **png, unsigned long *size);

/// Resizes an interleaved 8-bit image of `channels` from in_w × in_h to out_w × out_h with the triangle (bilinear)
/// filter widened by the scale when shrinking (antialiased), in Pillow 13's Image.resize(…, BILINEAR) arithmetic: the
/// same coefficients, fixed point with 22 fraction bits, rounded to 8 bits between the passes, the horizontal pass
/// first unless the height shrinks by more than twice what the width does. `scratch` holds
/// max(out_w × in_h, in_w × out_h) × channels bytes. Returns 0, or -1 if memory for the coefficients ran out.
int easgd_resize_bilinear(const uint8_t *in, int in_w, int in_h, int channels, uint8_t *out, int out_w, int out_h,
                          uint8_t *scratch);

#endif
