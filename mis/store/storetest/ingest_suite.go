package storetest

import "testing"

// testIngest checks store.IngestStore: stored inbound messages and their
// deduplication, what processing writes, devices, code maps, the matching
// lookups and the reconciliation queue.
func testIngest(t *testing.T, open opener) {
	t.Run("SaveMessage", func(t *testing.T) { testSaveMessage(t, open) })
	t.Run("GetMessage", func(t *testing.T) { testGetMessage(t, open) })
	t.Run("ListMessages", func(t *testing.T) { testListMessages(t, open) })
	t.Run("ReceivedMessages", func(t *testing.T) { testReceivedMessages(t, open) })
	t.Run("ApplyIngest", func(t *testing.T) { testApplyIngest(t, open) })
	t.Run("SaveMessageWithResult", func(t *testing.T) { testSaveMessageWithResult(t, open) })
	t.Run("Devices", func(t *testing.T) { testIngestDevices(t, open) })
	t.Run("CodeMaps", func(t *testing.T) { testCodeMaps(t, open) })
	t.Run("Lookups", func(t *testing.T) { testLookups(t, open) })
	t.Run("ListRecon", func(t *testing.T) { testListRecon(t, open) })
	t.Run("ResolveRecon", func(t *testing.T) { testResolveRecon(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testIngestConcurrency(t, open) })
	t.Run("IDsNotReused", func(t *testing.T) { testIDsNotReused(t, open) })
}
