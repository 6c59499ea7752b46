package dicom

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestTLS runs an echo over DICOM TLS with a throwaway self-signed
// certificate.
func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	ts := startServer(t, &Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Associate(testCtx(t), conn, ClientConfig{CallingAE: "TLSSCU", CalledAE: "MEDGATE", Contexts: allStorageContexts[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Echo(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
