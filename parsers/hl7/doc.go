// Package hl7 parses and encodes HL7 v2 messages.
//
// It is pure: Parse and ParseBatch take bytes and return a message tree or
// an error naming the segment, field and byte offset; nothing is read,
// written or logged, and no package state changes.
//
// A parsed Message holds the text decoded to UTF-8 once and, per segment,
// the positions of its field separators. Repetitions, components and
// subcomponents are found on access by scanning the field, and escape
// sequences are decoded only when a value is read, so parsing allocates a
// handful of times per message rather than once per field. Typed views (MSH,
// PID, OBX, ...) are thin wrappers over a *Segment that read fields on
// demand; they hold no copy of the data.
//
// A parsed Message is not modified by reading it, so concurrent readers
// are safe; builders (NewMessage, Message.Add, Segment.Set) are not.
//
// Raw text is what the sender wrote between separators, escapes included;
// Value.String and the typed accessors return unescaped text. Encode writes
// each segment's raw text back, so Parse(Encode(m)) reproduces m exactly.
package hl7
