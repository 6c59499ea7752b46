package domain

// IngestResult is what processing one message produced.
type IngestResult struct {
	Status  string // MessageProcessed, MessageQueued or MessageError
	Reason  string
	Reports []ReportSet
	Studies []ImagingStudy
	Recon   []ReconDraft
}

// ReportSet is a report with its observations.
type ReportSet struct {
	Report       DiagnosticReport
	Observations []Observation
}

// ReconDraft is a reconciliation item to create; Report and Study index
// into the result's Reports and Studies (-1: none).
type ReconDraft struct {
	Item   ReconItem
	Report int
	Study  int
}
