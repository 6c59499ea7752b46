// Package mapping turns parsed device messages into medgate's resources:
// device profiles, code maps and matching. It knows the parsers and the
// domain model, and reaches the database only through the Lookup interface,
// so its rules are tested without one.
package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/medgate/medgate/mis/domain"
)

// Lookup finds what matching needs, within one organization. A miss is an
// error wrapping domain.ErrNotFound; any other error is a fault.
type Lookup interface {
	FindSpecimen(ctx context.Context, org int64, barcode string) (*domain.Specimen, error)
	FindOrderByAccession(ctx context.Context, org int64, accession string) (*domain.ServiceRequest, error)
	FindOrderByStudyUID(ctx context.Context, org int64, uid string) (*domain.ServiceRequest, error)
	FindPatientsByIdentifier(ctx context.Context, org int64, id domain.Identifier) ([]domain.Patient, error)
	FindPatientsByDemographics(ctx context.Context, org int64, family, given, birthDate string, gender domain.Gender) ([]domain.Patient, error)
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

// Keys are what a message says about whose result it is.
type Keys struct {
	Org         int64
	Barcode     string // specimen barcode / sample ID
	Accession   string // accession number / placer or filler order number
	StudyUID    string
	Identifiers []domain.Identifier // patient identifiers, each with its system
	Family      string
	Given       string
	BirthDate   string // YYYY-MM-DD
	Gender      domain.Gender
}

// Match is where a result belongs, or why that is unknown.
type Match struct {
	PatientID  int64
	RequestID  int64
	SpecimenID int64
	// Reason is empty when matched; else a domain.Reason* for the
	// reconciliation queue, with Key saying what was looked for.
	Reason     string
	Key        string
	Detail     string
	Candidates []int64 // proposed by demographics; never attached automatically
}

// Matched reports whether the result may be attached.
func (m Match) Matched() bool { return m.Reason == "" && m.PatientID != 0 }

// Find applies the matching rules in order, first hit wins: specimen barcode
// or accession number → order → patient; Study Instance UID → imaging
// order; a patient identifier with its system. Demographics only ever
// propose candidates, and only under the propose-demographics policy.
func Find(ctx context.Context, lk Lookup, policy string, k Keys) (Match, error) {
	for _, code := range []string{k.Barcode, k.Accession} {
		if code == "" {
			continue
		}
		sp, err := lk.FindSpecimen(ctx, k.Org, code)
		if err == nil {
			return Match{PatientID: sp.PatientID, RequestID: sp.RequestID, SpecimenID: sp.ID}, nil
		}
		if !isNotFound(err) {
			return Match{}, err
		}
		o, err := lk.FindOrderByAccession(ctx, k.Org, code)
		if err == nil {
			return orderMatch(o), nil
		}
		if !isNotFound(err) {
			return Match{}, err
		}
		// A placer or filler number an outside LIS/HIS gave the order.
		if o, err := findByOrderIdentifier(ctx, lk, k.Org, code); err != nil {
			return Match{}, err
		} else if o != nil {
			return orderMatch(o), nil
		}
	}
	if k.StudyUID != "" {
		o, err := lk.FindOrderByStudyUID(ctx, k.Org, k.StudyUID)
		if err == nil {
			return orderMatch(o), nil
		}
		if !isNotFound(err) {
			return Match{}, err
		}
	}
	m := Match{}
	for _, id := range k.Identifiers {
		if id.System == "" || id.Value == "" {
			continue // an identifier without its issuer proves nothing
		}
		ps, err := lk.FindPatientsByIdentifier(ctx, k.Org, id)
		if err != nil && !isNotFound(err) {
			return Match{}, err
		}
		switch len(ps) {
		case 0:
			continue
		case 1:
			return Match{PatientID: ps[0].ID}, nil
		default:
			m.Reason, m.Key = domain.ReasonAmbiguousPatient, "pid:"+id.System+"|"+id.Value
			m.Detail = fmt.Sprintf("%d patients share identifier %s", len(ps), id.System)
			return m, nil
		}
	}
	// Nothing matched: say what was looked for, most specific key first.
	switch {
	case k.Barcode != "":
		m.Reason, m.Key, m.Detail = domain.ReasonNoOrder, "barcode:"+k.Barcode, "no specimen or order with this barcode"
	case k.Accession != "":
		m.Reason, m.Key, m.Detail = domain.ReasonNoOrder, "accession:"+k.Accession, "no order with this accession number"
	case k.StudyUID != "":
		m.Reason, m.Key, m.Detail = domain.ReasonNoOrder, "study:"+k.StudyUID, "no order with this Study Instance UID"
	case len(k.Identifiers) > 0:
		id := k.Identifiers[0]
		m.Reason, m.Key, m.Detail = domain.ReasonUnknownPatient, "pid:"+id.System+"|"+id.Value, "no patient with this identifier"
	default:
		m.Reason, m.Detail = domain.ReasonUnknownPatient, "the message names no barcode, order or patient identifier"
	}
	if policy == domain.MatchPropose && k.Family != "" && k.BirthDate != "" {
		ps, err := lk.FindPatientsByDemographics(ctx, k.Org, k.Family, k.Given, k.BirthDate, k.Gender)
		if err != nil && !isNotFound(err) {
			return Match{}, err
		}
		for _, p := range ps {
			m.Candidates = append(m.Candidates, p.ID)
		}
		if len(ps) > 0 {
			m.Detail += fmt.Sprintf("; %d patient(s) with the same name, birth date and sex proposed", len(ps))
		}
	}
	if m.Key == "" && k.Family != "" {
		m.Key = "name:" + strings.ToLower(domain.FoldName(k.Family+" "+k.Given)) + "|" + k.BirthDate
	}
	return m, nil
}

// OrderLookup is a Lookup that also finds orders by the placer and filler
// numbers outside systems gave them (see domain.OrderUpsert). Stores
// implement it; matching uses it when the Lookup has it.
type OrderLookup interface {
	// FindOrdersByIdentifier lists the orders holding an identifier with
	// this value, in any system.
	FindOrdersByIdentifier(ctx context.Context, org int64, value string) ([]domain.OrderRef, error)
}

// findByOrderIdentifier finds the one order an outside number names;
// a number that several orders hold (from different systems) names none.
func findByOrderIdentifier(ctx context.Context, lk Lookup, org int64, value string) (*domain.ServiceRequest, error) {
	ol, ok := lk.(OrderLookup)
	if !ok || value == "" {
		return nil, nil
	}
	refs, err := ol.FindOrdersByIdentifier(ctx, org, value)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	var found *domain.ServiceRequest
	for i := range refs {
		if found != nil && found.ID != refs[i].Order.ID {
			return nil, nil
		}
		found = &refs[i].Order
	}
	return found, nil
}

func orderMatch(o *domain.ServiceRequest) Match {
	m := Match{PatientID: o.PatientID, RequestID: o.ID}
	if len(o.Specimens) == 1 {
		m.SpecimenID = o.Specimens[0].ID
	}
	return m
}
