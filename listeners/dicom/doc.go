// Package dicom implements DICOM networking for medgate: the PS3.8 upper
// layer (PDUs and the association state machine) and the PS3.7 DIMSE-C
// services C-ECHO, C-STORE, C-FIND and C-CANCEL, as an SCP (Server) and as
// an SCU (Client, shared with the simulator).
//
// Layers:
//
//   - PDUReader/PDUWriter frame PDUs over any io.Reader/io.Writer, with
//     strict lengths: a P-DATA-TF longer than the maximum we announced, or
//     items whose lengths do not add up, is a *PDUError carrying the
//     A-ABORT reason (1 unrecognized PDU, 4 unrecognized parameter, 6
//     invalid parameter value). Allocation is bounded by the announced
//     limit (1 MiB for A-ASSOCIATE-RQ/AC).
//   - machine is the state machine of PS3.8 9.2 (Sta1–Sta13, Evt1–Evt19,
//     Table 9-10 as a table), shared by both sides: ARTIM timer (after
//     connect, after A-ASSOCIATE-RJ, A-RELEASE-RP or A-ABORT until the peer
//     closes), release in both directions including release collision
//     (Sta9–Sta12), A-ABORT both ways, TCP_NODELAY.
//   - The DIMSE layer reassembles commands and data sets from PDV fragments
//     by their last-fragment bit and fragments outgoing messages into
//     P-DATA-TF PDUs no longer than the peer's maximum (our default when it
//     announces 0), several PDVs per PDU, every fragment of even length.
//     A peer maximum below 8 bytes, which no P-DATA-TF fits, is refused.
//   - Server (SCP) and Client (SCU).
//
// Conformance (SCP):
//
//   - Verification; Storage for the classes of StorageSOPClasses (PS3.4
//     Table B.5-1 plus common retired image classes); Modality Worklist
//     FIND and Study Root Q/R FIND when their handlers are set.
//   - Presentation contexts: the first transfer syntax of the Server's
//     preference order that the requestor proposes (storage: lossless
//     compressed, uncompressed, deflated, then lossy; services: Explicit
//     then Implicit VR Little Endian); otherwise result 3 (abstract syntax
//     not supported) or 4 (transfer syntaxes not supported).
//   - Instances are stored bit for bit as received in whatever transfer
//     syntax was negotiated (no transcoding), wrapped in a Part 10 header,
//     fsync'd, hashed (SHA-256) and given to the listeners.Handler before
//     the C-STORE-RSP. Memory per association is bounded by a few PDUs.
//   - Asynchronous operations window: 1 (answered 1/1 when proposed); one
//     operation at a time; C-CANCEL honoured during C-FIND.
//   - SCP/SCU role selection: answered once per accepted abstract syntax
//     with the requestor's SCU role and no SCP role (no C-GET storage).
//   - Not supported: extended negotiation (SOP class and common extended,
//     items 0x56/0x57, are ignored), user identity negotiation (0x58, not
//     answered), C-GET, C-MOVE and the N-services (answered 0x0211
//     unrecognized operation), Patient Root and other FIND models.
//   - Implementation class UID ImplementationClassUID, version name
//     ImplementationVersionName.
//
// Rejections: called AE title other than the Server's (permanent, service
// user, reason 7); Acceptor returning listeners.ErrUnknownDevice (permanent,
// service user, reason 3); association limit reached (transient, service
// user, reason 1); application context other than the DICOM one
// (permanent, service user, reason 2); a maximum PDU length of 1 to 7
// (permanent, service user, reason 1); protocol version without bit 0
// (permanent, service provider ACSE, reason 2).
package dicom
