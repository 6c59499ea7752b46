package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(cheap, 2)
	enc, err := h.Hash(ctx, "Пароль-123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	if ok, err := h.Verify(ctx, enc, "Пароль-123"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := h.Verify(ctx, enc, "пароль-123"); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	// Another hasher with other defaults still verifies: parameters travel in the hash.
	if ok, _ := NewHasher(DefaultParams, 1).Verify(ctx, enc, "Пароль-123"); !ok {
		t.Fatal("verify with stored parameters failed")
	}
	enc2, _ := h.Hash(ctx, "Пароль-123")
	if enc == enc2 {
		t.Fatal("same salt twice")
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := NewHasher(cheap, 1)
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$"} {
		if ok, err := h.Verify(context.Background(), bad, "x"); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v, want ErrMalformedHash", bad, ok, err)
		}
	}
}

func TestTokens(t *testing.T) {
	a, ha := NewToken()
	b, _ := NewToken()
	if a == b || len(a) < 40 || HashToken(a) != ha || ha == a {
		t.Fatalf("tokens %q %q hash %q", a, b, ha)
	}
	p := GeneratePassword()
	if len(p) != 20 || strings.ContainsAny(p, "0O1lI") {
		t.Fatalf("password %q", p)
	}
}

func TestRoles(t *testing.T) {
	u := &domain.User{Memberships: []domain.Membership{
		{OrganizationID: 1, Roles: []domain.Role{domain.RoleIT}},
		{OrganizationID: 2, Roles: []domain.Role{domain.RoleDoctor}},
		{OrganizationID: 3, Roles: []domain.Role{domain.RoleRegistrar, domain.RoleLab}},
	}}
	if got := OrgsWith(u, PatientRead); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("patient.read in %v, want [2 3]", got)
	}
	if got := OrgsWith(u, PatientWrite); len(got) != 1 || got[0] != 3 {
		t.Errorf("patient.write in %v, want [3]", got)
	}
	if got := OrgsWith(u, ResultRead); len(got) != 2 {
		t.Errorf("result.read in %v, want [2 3]", got)
	}
	if Grants(domain.RoleIT, PatientRead) || Grants(domain.RoleRegistrar, ResultRead) || !Grants(domain.RoleAdmin, UserAdmin) {
		t.Error("role matrix changed")
	}
	for _, r := range domain.Roles {
		if len(grants[r]) == 0 {
			t.Errorf("role %s grants nothing", r)
		}
	}
}

func TestLockout(t *testing.T) {
	l := &Lockout{Max: 3, Period: time.Minute}
	t0 := time.Now()
	for i := 0; i < 2; i++ {
		l.Fail("a", t0)
	}
	if l.Locked("a", t0) {
		t.Fatal("locked after 2 of 3")
	}
	l.Fail("a", t0)
	if !l.Locked("a", t0) || l.Locked("b", t0) {
		t.Fatal("lock after 3 failures, only for that login")
	}
	if l.Locked("a", t0.Add(2*time.Minute)) {
		t.Fatal("lock outlived its period")
	}
	l.Succeed("a")
	if l.Locked("a", t0) {
		t.Fatal("success did not clear")
	}
}
