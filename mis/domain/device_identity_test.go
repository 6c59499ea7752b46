package domain_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/store"
)

func TestIdentitiesCollide(t *testing.T) {
	hl7 := func(app, facility string, addrs ...string) domain.Device {
		return domain.Device{Protocol: domain.ProtocolHL7, SendingApplication: app, SendingFacility: facility, Addresses: addrs, Active: true}
	}
	dicom := func(ae string, addrs ...string) domain.Device {
		return domain.Device{Protocol: domain.ProtocolDICOM, AETitle: ae, Addresses: addrs, Active: true}
	}
	astm := func(sender string, t *domain.Transport, addrs ...string) domain.Device {
		return domain.Device{Protocol: domain.ProtocolASTM, Sender: sender, Transport: t, Addresses: addrs, Active: true}
	}
	serial := func(port string) *domain.Transport { return &domain.Transport{Serial: port, Baud: 9600} }
	tcp := func(host string, port int) *domain.Transport { return &domain.Transport{Host: host, Port: port} }
	inactive := hl7("BC-5380", "LAB")
	inactive.Active = false
	for _, tc := range []struct {
		name string
		a, b domain.Device
		want bool
	}{
		{"same MSH-3 and MSH-4", hl7("BC-5380", "LAB"), hl7("BC-5380", "LAB"), true},
		{"same MSH-3, one without MSH-4", hl7("BC-5380", "LAB"), hl7("BC-5380", ""), true},
		{"same MSH-3, different MSH-4", hl7("BC-5380", "LAB"), hl7("BC-5380", "ICU"), false},
		{"different MSH-3", hl7("BC-5380", "LAB"), hl7("BC-6800", "LAB"), false},
		{"one inactive", hl7("BC-5380", "LAB"), inactive, false},
		{"HL7 and ASTM with one name", hl7("S", ""), astm("S", nil), false},
		{"AE title, both lists empty", dicom("CT1"), dicom("CT1"), true},
		{"AE title, one list empty", dicom("CT1", "10.0.5.21"), dicom("CT1"), true},
		{"AE title, disjoint lists", dicom("CT1", "10.0.5.21"), dicom("CT1", "10.0.5.22"), false},
		{"AE title, lists share an IP written two ways", dicom("CT1", "10.0.5.21", "::1"), dicom("CT1", "0:0::1"), true},
		{"different AE titles", dicom("CT1"), dicom("CT2"), false},
		{"ASTM sender, no lines", astm("XN", nil), astm("XN", nil), true},
		{"ASTM sender, two serial ports", astm("XN", serial("/dev/ttyUSB0")), astm("XN", serial("/dev/ttyUSB1")), false},
		{"ASTM sender, one serial port", astm("XN", serial("/dev/ttyUSB0")), astm("XN", serial("/dev/ttyUSB0")), true},
		{"ASTM sender, one on a line, one on any", astm("XN", serial("/dev/ttyUSB0")), astm("XN", nil), true},
		{"ASTM sender, serial and TCP", astm("XN", serial("/dev/ttyUSB0")), astm("XN", tcp("10.0.0.1", 2575)), false},
		{"ASTM sender, two hosts", astm("XN", tcp("10.0.0.1", 2575)), astm("XN", tcp("10.0.0.2", 2575)), false},
		{"ASTM sender, two ports", astm("XN", tcp("10.0.0.1", 2575)), astm("XN", tcp("10.0.0.1", 2576)), false},
		{"ASTM sender, a port on any host", astm("XN", tcp("10.0.0.1", 2575)), astm("XN", tcp("", 2575)), true},
		{"ASTM, a TCP client kept off the other's host", astm("XN", tcp("10.0.0.1", 2575)), astm("XN", nil, "10.0.0.2"), false},
		{"ASTM, a TCP client on the other's host", astm("XN", tcp("10.0.0.1", 2575)), astm("XN", nil, "10.0.0.1"), true},
		{"ASTM, serial line with an allow-list is never reached", astm("XN", serial("/dev/ttyUSB0"), "10.0.0.1"), astm("XN", nil), false},
	} {
		for _, swap := range []bool{false, true} {
			a, b := tc.a, tc.b
			if swap {
				a, b = b, a
			}
			if got := domain.IdentitiesCollide(&a, &b); got != tc.want {
				t.Errorf("%s (swapped %v): IdentitiesCollide = %v, want %v", tc.name, swap, got, tc.want)
			}
		}
	}
}

// oneDevice is a store holding one device, for ingest's FindDevices.
type oneDevice struct {
	store.Store
	d domain.Device
}

func (s oneDevice) FindDevices(_ context.Context, protocol, id string) ([]domain.Device, error) {
	if s.d.Active && s.d.Protocol == protocol && s.d.Identity() == id {
		return []domain.Device{s.d}, nil
	}
	return nil, nil
}

// TestIdentitiesCollideLikeIngest: two devices collide exactly when some
// message, of those a listener could hand over, is claimed by each of them
// on its own, as ingest decides.
func TestIdentitiesCollideLikeIngest(t *testing.T) {
	var devs []domain.Device
	addrLists := [][]string{nil, {"10.0.0.1"}, {"10.0.0.2", "::1"}, {"0:0::1"}}
	for _, active := range []bool{true, false} {
		for _, addrs := range addrLists {
			for _, ae := range []string{"A", "B"} {
				devs = append(devs, domain.Device{Protocol: domain.ProtocolDICOM, AETitle: ae, Addresses: addrs, Active: active})
			}
			for _, f := range []string{"", "F", "G"} {
				devs = append(devs, domain.Device{Protocol: domain.ProtocolHL7, SendingApplication: "A", SendingFacility: f, Addresses: addrs, Active: active})
			}
			for _, tr := range []*domain.Transport{nil, {Serial: "/dev/ttyUSB0"}, {Serial: "/dev/ttyUSB1"}, {Port: 2575},
				{Host: "10.0.0.1", Port: 2575}, {Host: "10.0.0.2", Port: 2575}, {Host: "lis.local", Port: 2575},
				{Host: "10.0.0.1", Port: 2576}, {Host: "10.0.0.1"}, {Serial: "/dev/ttyUSB0", Port: 2575}} {
				devs = append(devs, domain.Device{Protocol: domain.ProtocolASTM, Sender: "S", Transport: tr, Addresses: addrs, Active: active})
			}
		}
	}
	var envs []listeners.Envelope
	for _, peer := range []string{"10.0.0.1:2575", "10.0.0.2:2575", "[::1]:2575", "10.0.0.1:2576", "10.0.0.9:2575",
		"lis.local:2575", "/dev/ttyUSB0", "/dev/ttyUSB1", "10.0.0.1:40000"} {
		for _, ae := range []string{"A", "B"} {
			envs = append(envs, listeners.Envelope{Protocol: listeners.DICOM, Peer: peer, CallingAE: ae})
		}
		for _, f := range []string{"", "F", "G", "H"} {
			envs = append(envs, listeners.Envelope{Protocol: listeners.HL7, Peer: peer, SendingApplication: "A", SendingFacility: f})
		}
		envs = append(envs, listeners.Envelope{Protocol: listeners.ASTM, Peer: peer, Sender: "S"})
	}
	ctx := context.Background()
	claims := make([][]bool, len(devs)) // claims[i][e]: device i alone is found for envs[e]
	for i, d := range devs {
		p := &ingest.Pipeline{Store: oneDevice{d: d}, CacheTTL: -1}
		claims[i] = make([]bool, len(envs))
		for e := range envs {
			got, err := p.Device(ctx, &envs[e])
			if err != nil {
				t.Fatal(err)
			}
			claims[i][e] = got != nil
		}
	}
	n := 0
	for i := range devs {
		for j := range devs {
			want, why := false, ""
			for e := range envs {
				if claims[i][e] && claims[j][e] {
					want, why = true, fmt.Sprintf("both claim %+v", envs[e])
					break
				}
			}
			if want {
				n++
			}
			if got := domain.IdentitiesCollide(&devs[i], &devs[j]); got != want {
				t.Errorf("IdentitiesCollide(%s, %s) = %v, want %v %s", show(devs[i]), show(devs[j]), got, want, why)
			}
		}
	}
	if n == 0 || n == len(devs)*len(devs) {
		t.Fatalf("%d of %d pairs collide: the cases do not test anything", n, len(devs)*len(devs))
	}
}

func show(d domain.Device) string {
	s := fmt.Sprintf("{%s %q active=%v addresses=%v", d.Protocol, d.Identity(), d.Active, d.Addresses)
	if d.SendingFacility != "" {
		s += " facility=" + d.SendingFacility
	}
	if d.Transport != nil {
		s += fmt.Sprintf(" transport=%+v", *d.Transport)
	}
	return s + "}"
}
