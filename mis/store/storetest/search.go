package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// sortPatients orders patients as SearchPatients must: by folded family,
// given and patronymic, then by id.
func sortPatients(ps []domain.Patient) {
	slices.SortFunc(ps, func(a, b domain.Patient) int {
		for _, c := range [][2]string{{a.Family, b.Family}, {a.Given, b.Given}, {a.Patronymic, b.Patronymic}} {
			if r := strings.Compare(domain.FoldName(c[0]), domain.FoldName(c[1])); r != 0 {
				return r
			}
		}
		return cmpInt(a.ID, b.ID)
	})
}

func testSearchPatients(t *testing.T, open opener) {
	// One store for the read-only queries over a fixed population.
	t.Run("Queries", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		ivanIvan := e.patient(a.ID, "Иванов", "Иван", func(p *domain.Patient) {
			p.Patronymic, p.BirthDate, p.SNILS = "Иванович", "1970-01-01", SNILS(100000001)
		})
		ivanovaMaria := e.patient(a.ID, "ИВАНОВА", "Мария", func(p *domain.Patient) {
			p.Patronymic, p.BirthDate, p.Gender = "Петровна", "1985-03-15", domain.GenderFemale
		})
		ivanPetr := e.patient(a.ID, "Иванов", "Петр", func(p *domain.Patient) {
			p.Patronymic, p.BirthDate = "Сергеевич", "1985-03-15"
		})
		semenov := e.patient(a.ID, "Семёнов", "Семён", func(p *domain.Patient) {
			p.Patronymic, p.BirthDate = "Аркадьевич", "1990-07-20"
		})
		petrov := e.patient(a.ID, "Петров", "Алексей", func(p *domain.Patient) {
			p.BirthDate, p.ENP = "1970-01-01", ENP(42)
			p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-1"}}
		})
		ivanBoris := e.patient(b.ID, "Иванов", "Борис", func(p *domain.Patient) {
			p.BirthDate, p.SNILS = "1970-01-01", SNILS(100000001)
			p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-1"}}
		})
		A, B, AB := ids(a.ID), ids(b.ID), ids(a.ID, b.ID)
		card := func(system, value string) *domain.Identifier { return &domain.Identifier{System: system, Value: value} }
		cases := []struct {
			name string
			q    store.PatientQuery
			want []*domain.Patient
		}{
			{"NamePrefixLower", store.PatientQuery{Orgs: A, Name: "иван"}, []*domain.Patient{ivanIvan, ivanPetr, ivanovaMaria}},
			{"NamePrefixUpper", store.PatientQuery{Orgs: A, Name: "ИВАН"}, []*domain.Patient{ivanIvan, ivanPetr, ivanovaMaria}},
			{"NameFamilyFull", store.PatientQuery{Orgs: A, Name: "Иванова"}, []*domain.Patient{ivanovaMaria}},
			{"NameYoFoldsInQuery", store.PatientQuery{Orgs: A, Name: "Семён"}, []*domain.Patient{semenov}},
			{"NameYoFoldsInData", store.PatientQuery{Orgs: A, Name: "семен"}, []*domain.Patient{semenov}},
			{"NameFamilyAndGivenPrefix", store.PatientQuery{Orgs: A, Name: "Иванов Пе"}, []*domain.Patient{ivanPetr}},
			{"NameFamilyAndGiven", store.PatientQuery{Orgs: A, Name: "иванов иван"}, []*domain.Patient{ivanIvan}},
			{"NameFullWithPatronymic", store.PatientQuery{Orgs: A, Name: "семенов семен арк"}, []*domain.Patient{semenov}},
			{"NameIsPrefixNotSubstring", store.PatientQuery{Orgs: A, Name: "петр"}, []*domain.Patient{petrov}},
			{"NameNoMatch", store.PatientQuery{Orgs: A, Name: "ова"}, nil},
			{"SNILS", store.PatientQuery{Orgs: A, SNILS: SNILS(100000001)}, []*domain.Patient{ivanIvan}},
			{"SNILSNoMatch", store.PatientQuery{Orgs: A, SNILS: SNILS(100000002)}, nil},
			{"BirthDate", store.PatientQuery{Orgs: A, BirthDate: "1985-03-15"}, []*domain.Patient{ivanPetr, ivanovaMaria}},
			{"Identifier", store.PatientQuery{Orgs: A, Identifier: card(SystemMedCard, "МК-1")}, []*domain.Patient{petrov}},
			{"IdentifierOtherSystem", store.PatientQuery{Orgs: A, Identifier: card(SystemPasport, "МК-1")}, nil},
			{"IdentifierENP", store.PatientQuery{Orgs: A, Identifier: card(domain.SystemENP, ENP(42))}, []*domain.Patient{petrov}},
			{"IdentifierSNILS", store.PatientQuery{Orgs: A, Identifier: card(domain.SystemSNILS, SNILS(100000001))}, []*domain.Patient{ivanIvan}},
			{"NameAndBirthDate", store.PatientQuery{Orgs: A, Name: "иванов", BirthDate: "1985-03-15"}, []*domain.Patient{ivanPetr, ivanovaMaria}},
			{"NameAndOtherBirthDate", store.PatientQuery{Orgs: A, Name: "иванов", BirthDate: "1970-01-01"}, []*domain.Patient{ivanIvan}},
			{"SNILSAndOtherName", store.PatientQuery{Orgs: A, Name: "петр", SNILS: SNILS(100000001)}, nil},
			{"BirthDateAndIdentifier", store.PatientQuery{Orgs: A, BirthDate: "1970-01-01", Identifier: card(SystemMedCard, "МК-1")}, []*domain.Patient{petrov}},
			{"AllOfOrganization", store.PatientQuery{Orgs: A}, []*domain.Patient{ivanIvan, ivanPetr, ivanovaMaria, petrov, semenov}},
			{"ScopedOtherOrganization", store.PatientQuery{Orgs: B, Name: "иванов"}, []*domain.Patient{ivanBoris}},
			{"ScopedBothOrganizations", store.PatientQuery{Orgs: AB, Name: "иванов"}, []*domain.Patient{ivanBoris, ivanIvan, ivanPetr, ivanovaMaria}},
			{"ScopedSNILS", store.PatientQuery{Orgs: AB, SNILS: SNILS(100000001)}, []*domain.Patient{ivanBoris, ivanIvan}},
			{"ScopedIdentifier", store.PatientQuery{Orgs: B, Identifier: card(SystemMedCard, "МК-1")}, []*domain.Patient{ivanBoris}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var want []int64
				for _, p := range c.want {
					want = append(want, p.ID)
				}
				if want == nil {
					want = []int64{}
				}
				got := e.searchAll(c.q)
				sameIDs(t, "SearchPatients "+js(c.q), want, patientIDs(got))
			})
		}
		t.Run("ResultsAreFull", func(t *testing.T) {
			got := e.searchAll(store.PatientQuery{Orgs: A, Identifier: card(SystemMedCard, "МК-1")})
			if len(got) != 1 {
				t.Fatalf("got %d patients, want 1", len(got))
			}
			sameJSON(t, "patient in search results", normPatient(*petrov), normPatient(got[0]))
		})
		t.Run("NoOrganizations", func(t *testing.T) {
			// Orgs is required: a query without it finds nothing (or is refused).
			list, _, err := e.s.SearchPatients(e.ctx, store.PatientQuery{Name: "иванов"})
			if err == nil && len(list) != 0 {
				t.Errorf("SearchPatients without Orgs returned %d patients", len(list))
			}
		})
	})
	t.Run("OrderedByFoldedNameThenID", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		var all []domain.Patient
		for _, n := range [][3]string{
			{"Смирнов", "Олег", ""},
			{"смирнова", "Анна", ""},
			{"СМИРНОВ", "Андрей", "Яковлевич"},
			{"Смирнов", "Олег", ""},
			{"Смирнов", "Андрей", "Борисович"},
			{"Смирнов", "Яков", ""},
			{"Смирнов", "Ёжи", ""},
			{"Смирнов", "Егор", ""},
		} {
			all = append(all, *e.patient(org.ID, n[0], n[1], func(p *domain.Patient) { p.Patronymic = n[2] }))
		}
		sortPatients(all)
		sameIDs(t, "SearchPatients order", patientIDs(all), patientIDs(e.searchAll(store.PatientQuery{Orgs: ids(org.ID), Name: "смирнов"})))
	})
	t.Run("Pagination", func(t *testing.T) {
		e := begin(t, open)
		org, other := e.org("Клиника"), e.org("Другая")
		var all []domain.Patient
		for _, n := range [][2]string{
			{"Смирнов", "Олег"}, {"Смирнова", "Анна"}, {"Смирнов", "Андрей"}, {"Смирнов", "Олег"}, {"Смирнов", "Яков"},
		} {
			all = append(all, *e.patient(org.ID, n[0], n[1]))
		}
		e.patient(org.ID, "Соколов", "Иван")
		e.patient(other.ID, "Смирнов", "Аркадий")
		sortPatients(all)
		pages := walk(t, "SearchPatients", func(cursor string) ([]domain.Patient, string, error) {
			return e.s.SearchPatients(e.ctx, store.PatientQuery{Orgs: ids(org.ID), Name: "смирнов", Page: store.Page{Limit: 2, Cursor: cursor}})
		})
		if !slices.Equal(pageSizes(pages), []int{2, 2, 1}) {
			t.Errorf("page sizes %v, want [2 2 1]", pageSizes(pages))
		}
		got := patientIDs(concat(pages))
		noDuplicates(t, "pages", got)
		sameIDs(t, "pages concatenated", patientIDs(all), got)
	})
	t.Run("DefaultLimit", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		for i := range 25 {
			e.patient(org.ID, "Многов", givenNames[i])
		}
		list, next, err := e.s.SearchPatients(e.ctx, store.PatientQuery{Orgs: ids(org.ID)})
		if err != nil {
			t.Fatalf("SearchPatients with Limit 0: %v", err)
		}
		if len(list) < 20 {
			t.Errorf("Limit 0 returned %d patients of 25, want at least 20", len(list))
		}
		if len(list) < 25 && next == "" {
			t.Errorf("Limit 0 returned %d patients of 25 and no cursor", len(list))
		}
	})
}
