// Package dicom is the device side of DICOM: it plays a CT, dental CBCT,
// panoramic or intra-oral X-ray unit against medgate (or any Storage SCP)
// for tests, benchmarks and the medgate-sim command.
//
// Run does what a scanner does in a morning: C-ECHO, a Modality Worklist
// C-FIND for its own AE title and modality (QueryWorklist), whose first
// item gives the patient, accession number and pre-assigned Study
// Instance UID (or InventedSubject without a worklist); then it generates
// the series (Generate) before any timing — synthetic phantoms painted as
// row spans (body with lungs, vertebra and contrast for CT; jaw, teeth
// and a filling for CBCT and the X-ray kinds), never real patient data —
// and sends them with C-STORE over N parallel associations with
// listeners/dicom's Client (there is no second upper-layer
// implementation). The Report counts statuses, failures with their Error
// Comment, throughput and C-STORE latency percentiles.
//
// EncodeJPEGLossless is a small JPEG Lossless encoder (process 14,
// selection value 1, Huffman table computed per frame) for the
// 1.2.840.10008.1.2.4.70 transfer syntax; dcmtk's dcmdjpeg decodes its
// output to the original samples (see the tests). Multi-frame instances
// are generated frame by frame while they are sent, so their size is not
// bounded by the simulator's memory.
package dicom
