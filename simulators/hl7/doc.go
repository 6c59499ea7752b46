// Package hl7 is the device side of HL7 v2 over MLLP: it plays a lab
// analyzer or a LIS against medgate (or any MLLP receiver), for tests,
// benchmarks and the medgate-sim command.
//
// Generators (CBC, Chemistry, ADT, ORM, OML, QueryQ02, QueryR02,
// Generate) build messages with parsers/hl7's builders, with invented
// Cyrillic patients in UTF-8, Windows-1251, ISO-8859-5 or CP866. Variants (Variants,
// MakeBadMSH, MakeTruncated, MakeOversize, ...) make malformed and hostile
// input. Run sends over listeners/mllp's Writer and reads answers with
// its Reader — there is no second framing implementation — checks that
// every answer's MSA-2 is the MSH-10 sent on that connection (one message
// in flight per connection; never matched by position), and returns a
// Report with counts per MSA-1, throughput and latency percentiles.
package hl7
