package fhir

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dt "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/capability_statement_go_proto"
	vspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/valuesets_go_proto"
)

// published is when this CapabilityStatement was last changed.
var published = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

var paramTypes = map[paramKind]cpb.SearchParamTypeCode_Value{
	kindToken: cpb.SearchParamTypeCode_TOKEN, kindReference: cpb.SearchParamTypeCode_REFERENCE,
	kindDate: cpb.SearchParamTypeCode_DATE, kindString: cpb.SearchParamTypeCode_STRING,
}

// resourceTypeCode is a resource type's enum value: ServiceRequest → SERVICE_REQUEST.
func resourceTypeCode(name string) cpb.ResourceTypeCode_Value {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return cpb.ResourceTypeCode_Value(cpb.ResourceTypeCode_Value_value[b.String()])
}

// capabilityStatement lists what this server supports.
func (s *Server) capabilityStatement(base string) *cspb.CapabilityStatement {
	cs := &cspb.CapabilityStatement{
		Url:         furi(base + "/metadata"),
		Name:        fstr("MedgateFHIRServer"),
		Title:       fstr("medgate FHIR R4 API"),
		Status:      &cspb.CapabilityStatement_StatusCode{Value: cpb.PublicationStatusCode_ACTIVE},
		Date:        s.dateTime(published),
		Publisher:   fstr("medgate"),
		Description: fmarkdown("Read-only FHIR R4 view of medgate's patients, orders, specimens, lab results, imaging studies, devices and audit trail."),
		Kind:        &cspb.CapabilityStatement_KindCode{Value: cpb.CapabilityStatementKindCode_INSTANCE},
		Software:    &cspb.CapabilityStatement_Software{Name: fstr("medgate")},
		Implementation: &cspb.CapabilityStatement_Implementation{
			Description: fstr("medgate device gateway and clinic information system"),
			Url:         &dt.Url{Value: base},
		},
		FhirVersion: &cspb.CapabilityStatement_FhirVersionCode{Value: cpb.FHIRVersionCode_V_4_0_1},
		Format: []*cspb.CapabilityStatement_FormatCode{
			{Value: "json"}, {Value: "application/fhir+json"},
		},
	}
	rest := &cspb.CapabilityStatement_Rest{
		Mode: &cspb.CapabilityStatement_Rest_ModeCode{Value: cpb.RestfulCapabilityModeCode_SERVER},
		Documentation: fmarkdown("Searches page with `_count` (default " + strconv.Itoa(s.DefaultCount) + ", at most " + strconv.Itoa(s.MaxCount) +
			") and follow the `next` link; `_total=none` skips counting. Unknown parameters are ignored and listed in an " +
			"OperationOutcome entry, or refused with 400 under `Prefer: handling=strict`. Dates without a time zone are " +
			"read in the server's zone. Date parameters take the prefixes eq, ne, lt, gt, le, ge, sa, eb and ap; ap " +
			"(approximately) matches the value's own range widened on each side by a tenth of the time between now and " +
			"that range (birth dates to whole days). Results waiting in reconciliation (not attached to a patient) are not shown."),
		Security: &cspb.CapabilityStatement_Rest_Security{
			Cors: &dt.Boolean{Value: false},
			Description: fmarkdown("Send `Authorization: Bearer <token>` with a token from `POST /api/v1/login`. " +
				"A user reads the organizations where a role allows it; reads and searches of patient data are audited."),
		},
	}
	for _, name := range typeOrder {
		t := resourceTypes[name]
		res := &cspb.CapabilityStatement_Rest_Resource{
			Type:    &cspb.CapabilityStatement_Rest_Resource_TypeCode{Value: resourceTypeCode(name)},
			Profile: &dt.Canonical{Value: "http://hl7.org/fhir/StructureDefinition/" + name},
			Interaction: []*cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
				{Code: &cspb.CapabilityStatement_Rest_Resource_ResourceInteraction_CodeType{Value: vspb.TypeRestfulInteractionValueSet_READ}},
				{Code: &cspb.CapabilityStatement_Rest_Resource_ResourceInteraction_CodeType{Value: vspb.TypeRestfulInteractionValueSet_SEARCH_TYPE}},
			},
			Versioning:   &cspb.CapabilityStatement_Rest_Resource_VersioningCode{Value: cpb.ResourceVersionPolicyCode_NO_VERSION},
			ReadHistory:  &dt.Boolean{Value: false},
			UpdateCreate: &dt.Boolean{Value: false},
		}
		for _, inc := range t.include {
			res.SearchInclude = append(res.SearchInclude, fstr(inc))
		}
		res.SearchParam = append(res.SearchParam, &cspb.CapabilityStatement_Rest_Resource_SearchParam{
			Name: fstr("_id"), Type: &cspb.CapabilityStatement_Rest_Resource_SearchParam_TypeCode{Value: cpb.SearchParamTypeCode_TOKEN},
			Definition:    &dt.Canonical{Value: "http://hl7.org/fhir/SearchParameter/Resource-id"},
			Documentation: fmarkdown("Resource ids, comma-separated"),
		})
		for _, p := range t.params {
			res.SearchParam = append(res.SearchParam, &cspb.CapabilityStatement_Rest_Resource_SearchParam{
				Name:          fstr(p.name),
				Type:          &cspb.CapabilityStatement_Rest_Resource_SearchParam_TypeCode{Value: paramTypes[p.kind]},
				Documentation: fmarkdown(p.doc),
			})
		}
		rest.Resource = append(rest.Resource, res)
	}
	cs.Rest = []*cspb.CapabilityStatement_Rest{rest}
	return cs
}

// metadata answers GET /metadata, which needs no sign-in.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if s.initErr != nil {
		s.fail(w, r, s.initErr)
		return
	}
	s.write(w, r, http.StatusOK, s.capabilityStatement(s.baseURL(r)))
}
