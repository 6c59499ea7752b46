package domain

import (
	"net"
	"strings"
)

// Identity is the field an inbound message names its device by: the
// calling AE title of a DICOM device, the sending application (MSH-3) of
// an HL7 device, the sender name (H-5) of an ASTM device.
func (d *Device) Identity() string {
	switch d.Protocol {
	case ProtocolDICOM:
		return d.AETitle
	case ProtocolHL7:
		return d.SendingApplication
	case ProtocolASTM:
		return d.Sender
	}
	return ""
}

// IdentitiesCollide reports whether one inbound message could be claimed by
// both a and b, so that ingest, which recognises a message's device only
// when exactly one device claims it, would take it as from an unknown
// device. It is the rule of ingest's identify, applied to two devices
// instead of a device and a message:
//
//   - both are active, of one protocol, with the same identity (AE title,
//     sending application, sender);
//   - HL7: their sending facilities (MSH-4) overlap; an empty one matches
//     any;
//   - some peer passes both address allow-lists (an empty list allows every
//     address) and, for ASTM, comes over both devices' lines: a serial
//     port, or the host and port medgate connects to (a device without a
//     line takes messages from any).
//
// A device is not compared with itself by ID: callers leave it out.
func IdentitiesCollide(a, b *Device) bool {
	if !a.Active || !b.Active || a.Protocol != b.Protocol || a.Identity() == "" || a.Identity() != b.Identity() {
		return false
	}
	switch a.Protocol {
	case ProtocolDICOM:
		return addressesOverlap(a.Addresses, b.Addresses)
	case ProtocolHL7:
		if a.SendingFacility != "" && b.SendingFacility != "" && a.SendingFacility != b.SendingFacility {
			return false
		}
		return addressesOverlap(a.Addresses, b.Addresses)
	case ProtocolASTM:
		return astmPeersOverlap(a, b)
	}
	return false
}

// astmPeersOverlap reports whether some peer could reach both ASTM devices.
// A message over a serial port has the port's path as its peer, which no
// address allow-list admits; one over TCP has host:port.
func astmPeersOverlap(a, b *Device) bool {
	la, lb := lineOf(a.Transport), lineOf(b.Transport)
	// Over a serial port.
	if la.kind != lineTCP && lb.kind != lineTCP && len(a.Addresses) == 0 && len(b.Addresses) == 0 &&
		(la.kind == lineAny || lb.kind == lineAny || la.serial == lb.serial) {
		return true
	}
	// Over TCP.
	if la.kind == lineSerial || lb.kind == lineSerial {
		return false
	}
	if la.kind == lineTCP && lb.kind == lineTCP && la.port != lb.port {
		return false
	}
	// The peer's host must be on both allow-lists and be the host of
	// either line that names one.
	var lists [][]string
	for _, l := range [][]string{a.Addresses, b.Addresses, la.hosts(), lb.hosts()} {
		if len(l) > 0 {
			lists = append(lists, l)
		}
	}
	if len(lists) == 0 {
		return true
	}
	for _, h := range lists[0] {
		all := true
		for _, l := range lists[1:] {
			all = all && addressesOverlap([]string{h}, l)
		}
		if all {
			return true
		}
	}
	return false
}

type lineKind int

const (
	lineAny lineKind = iota
	lineSerial
	lineTCP
)

// line is which messages a device's transport lets through, as ingest's
// sameLine decides: a serial port's, those of one TCP port (on one host,
// if named), or any.
type line struct {
	kind   lineKind
	serial string
	host   string
	port   int
}

func lineOf(t *Transport) line {
	switch {
	case t == nil:
		return line{kind: lineAny}
	case t.Serial != "":
		return line{kind: lineSerial, serial: t.Serial}
	case t.Port != 0:
		return line{kind: lineTCP, host: t.Host, port: t.Port}
	}
	return line{kind: lineAny}
}

func (l line) hosts() []string {
	if l.kind == lineTCP && l.host != "" {
		return []string{l.host}
	}
	return nil
}

// addressesOverlap reports whether some address is on both lists, an empty
// list allowing every address. Addresses are compared as IPs (::1 and
// 0:0::1 are one address); what is not an IP, such as a host name, only
// by its text.
func addressesOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if sameHost(x, y) {
				return true
			}
		}
	}
	return false
}

func sameHost(x, y string) bool {
	if x == y {
		return true
	}
	ix, iy := net.ParseIP(x), net.ParseIP(y)
	return ix != nil && iy != nil && ix.Equal(iy)
}

// Clash says, for an error message, what a device shares with another
// that medgate could not tell it from (IdentitiesCollide): Field is its
// identity's key — the API's JSON name, or with yaml the device file's.
type Clash struct {
	Field, Value         string
	what, also, change   string
	facilityKey, inQuote string
}

// DescribeClash describes d's clash with other.
func DescribeClash(d, other *Device, yaml bool) Clash {
	key := func(json, yml string) string {
		if yaml {
			return yml
		}
		return json
	}
	c := Clash{Value: d.Identity()}
	switch d.Protocol {
	case ProtocolDICOM:
		c.Field, c.what, c.change = key("aeTitle", "ae_title"), "AE title", "different AE titles"
	case ProtocolHL7:
		c.Field, c.what, c.change = key("sendingApplication", "sending_application"), "sending application",
			"different sending facilities"
		c.facilityKey = key("sendingFacility", "sending_facility")
		switch {
		case d.SendingFacility == other.SendingFacility && d.SendingFacility != "":
			c.also, c.inQuote = " with the same sending facility ", d.SendingFacility
		case d.SendingFacility != other.SendingFacility:
			c.also, c.inQuote = " and both match sending facility ", d.SendingFacility+other.SendingFacility
		}
	default:
		c.Field, c.what, c.change = key("sender", "sender"), "sender", "different senders, different transport lines"
	}
	return c
}

// What names the identity: "AE title", "sending application", "sender".
func (c Clash) What() string { return c.what }

// Message is "<value> is already the <what> of <who>…; medgate could not
// tell their messages apart (give them … or disjoint addresses, or
// <inactive>)", values written with quote.
func (c Clash) Message(quote func(string) string, who, inactive string) string {
	also := ""
	if c.also != "" {
		also = c.also + quote(c.inQuote)
		if c.facilityKey != "" && strings.HasPrefix(c.also, " and") {
			also += " (an empty " + c.facilityKey + " matches any)"
		}
	}
	return quote(c.Value) + " is already the " + c.what + " of " + who + also +
		"; medgate could not tell their messages apart (give them " + c.change + " or disjoint addresses, or " + inactive + ")"
}
