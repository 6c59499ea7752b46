// Package render turns one frame of a stored DICOM Part 10 instance into
// an image.Image for the viewer: the pixel pipeline behind a DICOMweb
// "rendered" resource (PS3.18 §9.5 / §10.4) and series thumbnails.
//
// It is pure: Render and Info read from an io.ReaderAt and return values;
// nothing is written or logged, no package state changes, and concurrent
// calls are safe. Errors never quote element values (they may be patient
// data), only tags, offsets, sizes and transfer syntaxes.
//
// # Reading
//
// The dataset is walked element by element with a small reader of its own
// rather than github.com/suyashkumar/dicom: that library reads the whole
// Pixel Data element (every frame) into memory, while a viewer scrolling a
// 500-slice CBCT multi-frame wants one frame. Here values that are not
// needed are skipped with a seek, only the twenty-odd attributes rendering
// needs are kept, and only the requested frame's bytes are read: by offset
// for native pixel data, by the Basic Offset Table, the Extended Offset
// Table or a walk of the fragment headers for encapsulated pixel data.
// Deflated Explicit VR Little Endian is inflated up to the frame (the
// format allows nothing better). Sequences are skipped, except the
// enhanced multi-frame functional groups (Pixel Value Transformation and
// Frame VOI LUT of the requested frame) and the Modality and VOI LUT
// Sequences.
//
// # Transfer syntaxes
//
// Native Implicit VR LE, Explicit VR LE and BE, Deflated Explicit VR LE,
// Encapsulated Uncompressed Explicit VR LE; RLE Lossless (PS3.5 Annex G,
// decoder in this package); JPEG Lossless process 14 (.4.57) and its
// selection value 1 variant (.4.70) with a T.81 decoder in this package
// (2–16 bit, predictors 1–7, point transform, restart intervals, 1 or 3
// components); 8-bit JPEG baseline and extended (.4.50, .4.51) with
// image/jpeg. A JPEG frame is decoded by the SOF marker it carries,
// whatever the transfer syntax UID says. Everything else (JPEG-LS, JPEG
// 2000, HTJ2K, video, 12-bit DCT JPEG) is an *UnsupportedTransferSyntaxError
// naming the syntax, which an HTTP layer answers with 415; Info still
// describes such instances.
//
// # Pixel pipeline
//
// Samples are masked to Bits Stored below High Bit and, when Pixel
// Representation is 1, read as two's complement at Bits Stored. For
// MONOCHROME1/MONOCHROME2 the Modality LUT (Rescale Slope/Intercept, or a
// Modality LUT Sequence) gives modality values (HU for CT); the VOI LUT
// maps them to 0..255 (or 0..65535 with Options.Gray16) with the window
// function of PS3.3 C.11.2.1.2 (LINEAR: center − 0.5 and width − 1;
// LINEAR_EXACT; SIGMOID), or a VOI LUT Sequence; MONOCHROME1 is inverted.
// The window is Options' if given, else the dataset's first, else a VOI
// LUT Sequence, else the frame's range of modality values (Pixel Padding
// Value excluded). RGB (planar configuration 0 or 1), YBR_FULL,
// YBR_FULL_422 and PALETTE COLOR give *image.RGBA.
//
// For a rendered resource handler: window=center,width,function maps to
// WindowCenter, WindowWidth and VOIFunction; viewport to Size (the image
// is only ever shrunk, with a box filter); quality to the JPEG encoder.
package render
