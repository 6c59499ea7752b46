// Package dicom is medgate's pure DICOM data layer: a small dataset codec
// for C-FIND identifiers and responses, the DICOM character sets (PS3.5
// 6.1) with the Russian variants devices really send, C-FIND matching
// (PS3.4 C.2.2.2) and a response builder, and a streaming header reader
// for stored instances that never loads pixel data.
//
// Everything here is pure: no logging, no package state changes, no I/O
// except ReadHeader opening the file it is given. Errors name the byte
// offset and tag; they never quote values, which may be patient data.
//
// Element values are kept as raw bytes (padding included). Binary values
// (US, UL, SS, SL, FL, FD, AT, OW, OF, OD, OL, OV, SV, UV) are held in
// little-endian order whatever the transfer syntax they were read from:
// Decode swaps Explicit VR Big Endian values and Encode swaps them back.
// Text values are bytes in the dataset's Specific Character Set; use
// Dataset.String with a *Charset to get Go strings.
package dicom
