package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/parsers/hl7"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "medgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "mllp.crt"), filepath.Join(dir, "mllp.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestMLLPOverTLS: with mllp.tls_cert/tls_key the MLLP port speaks TLS
// only; a message sent over TLS is acknowledged AA.
func TestMLLPOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	doc := "mllp:\n  tls_cert: " + certFile + "\n  tls_key: " + keyFile + "\n" +
		"devices:\n  - name: bc-5380\n    protocol: hl7\n    sending_application: BC-5380\n"
	p := startConfig(t, dir, doc)
	defer p.stop(t)
	if !strings.Contains(p.banner, "(TLS)") {
		t.Errorf("banner does not say TLS:\n%s", p.banner)
	}
	conn, err := tls.Dial("tcp", p.mllp, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	msg := "MSH|^~\\&|BC-5380|LAB|MEDGATE|CLINIC|20261122093000||ORU^R01|TLS-1|P|2.3.1\rPID|1||12345||Иванов^Пётр\rOBR|1||0000000018|CBC\rOBX|1|NM|HGB||141|g/L|||||F\r"
	if err := mllp.NewWriter(conn).WriteMessage([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	frame, err := mllp.NewReader(conn).ReadMessage()
	if err != nil {
		t.Fatalf("no ACK over TLS: %v", err)
	}
	ack, err := hl7.Parse(frame, hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if msa := ack.Segment("MSA"); msa == nil || msa.Field(1).String() != "AA" || msa.Field(2).String() != "TLS-1" {
		t.Errorf("ACK %q", frame)
	}
	// Plain MLLP on the TLS port gets no ACK.
	plain, err := net.Dial("tcp", p.mllp)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.SetDeadline(time.Now().Add(5 * time.Second))
	mllp.NewWriter(plain).WriteMessage([]byte(msg))
	if f, err := mllp.NewReader(plain).ReadMessage(); err == nil {
		t.Errorf("plain MLLP on the TLS port was answered: %q", f)
	}
}
