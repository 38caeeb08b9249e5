// Package storetest is the conformance suite every store.Store passes:
// memstore and the Firestore store run the same tests, so the fake the
// unit tests use cannot drift from production.
package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
)

// Run runs the suite. newStore returns an empty store of the subtest's
// own, so that subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"create_user_then_get", testCreateUser},
		{"create_user_defaults", testCreateUserDefaults},
		{"create_user_taken", testCreateUserTaken},
		{"create_user_concurrent", testCreateUserConcurrent},
		{"create_user_invalid", testCreateUserInvalid},
		{"get_user_not_exist", testGetUserNotExist},
		{"user_not_aliased", testUserNotAliased},
		{"get_users_some_missing", testGetUsers},
		{"list_users_pages_filter_total", testListUsers},
		{"scan_users_keyset", testScanUsers},
		{"scan_users_where", testScanUsersWhere},
		{"scan_users_where_invalid", testScanUsersWhereInvalid},
		{"count_and_list_users_in_an_id_range", testUsersInRange},
		{"count_users_filter", testCountUsers},
		{"set_consent_history", testSetConsent},
		{"set_consent_errors", testSetConsentErrors},
		{"apply_keyword_order_and_history", testApplyKeyword},
		{"apply_keyword_unknown_number", testApplyKeywordUnknown},
		{"apply_keyword_concurrent_last_word_stands", testApplyKeywordConcurrent},
		{"record_inbound_latest_stands", testRecordInbound},
		{"record_inbound_kept_by_other_writes", testRecordInboundKept},
		{"record_inbound_concurrent", testRecordInboundConcurrent},
		{"import_job_create_get", testImportJob},
		{"apply_import_batch", testApplyImportBatch},
		{"apply_import_batch_idempotent", testApplyImportBatchIdempotent},
		{"apply_import_batch_concurrent", testApplyImportBatchConcurrent},
		{"apply_import_batch_errors", testApplyImportBatchErrors},
		{"apply_import_batch_full", testApplyImportBatchFull},
		{"apply_import_batches_sharing_people_concurrent", testApplyImportBatchesSharingPeople},
		{"import_job_new_fields_round_trip", testImportJobFields},
		{"import_job_totals_and_state", testImportJobTotals},
		{"applied_import_batches", testAppliedImportBatches},
		{"import_errors_chunks", testImportErrors},
		{"refuse_import_batch", testRefuseImportBatch},
		{"list_import_jobs", testListImportJobs},
		{"import_unknown_job", testImportUnknownJob},
		{"segments", testSegments},
		{"update_segment", testUpdateSegment},
		{"templates", testTemplates},
		{"update_template", testUpdateTemplate},
		{"campaigns", testCampaigns},
		{"update_campaign", testUpdateCampaign},
		{"update_campaign_concurrent", testUpdateCampaignConcurrent},
		{"campaign_history", testCampaignHistory},
		{"campaign_move_concurrent", testCampaignMoveConcurrent},
		{"campaign_lifecycle_fields", testCampaignLifecycleFields},
		{"due_and_unsettled_campaigns", testDueAndUnsettledCampaigns},
		{"update_message_in_campaign", testUpdateMessageInCampaign},
		{"claim_exact_against_pause", testClaimExactAgainstPause},
		{"messages_in", testMessagesIn},
		{"recent_sends", testRecentSends},
		{"create_messages_skips_existing", testCreateMessages},
		{"provider_sid_unique", testProviderSIDUnique},
		{"get_messages", testGetMessages},
		{"update_message", testUpdateMessage},
		{"update_message_concurrent", testUpdateMessageConcurrent},
		{"message_by_provider_sid", testMessageByProviderSID},
		{"list_messages_newest_updated_first", testListMessages},
		{"has_unconcluded", testHasUnconcluded},
		{"scan_messages_keyset", testScanMessages},
		{"messages_to_newest_first", testMessagesTo},
		{"messages_by_status_keyset", testMessagesByStatus},
		{"problems_replace_and_list_since", testProblems},
		{"suppressions", testSuppressions},
		{"claim_message_frequency_cap", testClaimMessage},
		{"claim_message_uncapped", testClaimMessageUncapped},
		{"claim_message_cap_exact_concurrent", testClaimMessageConcurrent},
		{"claim_message_reads_the_person", testClaimReadsThePerson},
		{"people_messaged_since", testPeopleMessagedSince},
		{"dry_runs", testDryRuns},
		{"campaigns_in_status_and_unconcluded_messages", testCampaignsInAndUnconcluded},
		{"stale_messages", testStaleMessages},
		{"count_messages", testCountMessages},
		{"record_webhook_once", testRecordWebhook},
		{"record_webhook_concurrent", testRecordWebhookConcurrent},
		{"record_webhook_refused_invalid", testRecordWebhookRefused},
		{"mark_webhook_published", testMarkWebhookPublished},
		{"list_webhooks_newest_by_kind", testListWebhooks},
		{"list_unpublished_oldest_first", testListUnpublished},
		{"erasure_batches", testErasureBatches},
		{"erasure_forget_user", testForgetUser},
		{"erasure_whole", testErase},
		{"erasure_stop_during", testEraseStopDuring},
		{"erasure_returning", testReturning},
		{"erasure_key_check", testCheckErasureKey},
		{"erasure_late_history", testEraseLateHistory},
		{"count_opt_outs", testCountOptOuts},
		{"marketing_opt_out", testMarketingOptOut},
		{"record_webhook_stop_in_one_transaction", testRecordWebhookStop},
		{"record_webhook_stop_concurrent", testRecordWebhookStopConcurrent},
		{"record_webhook_stop_erased_sender", testRecordWebhookStopErased},
		{"webhook_received_fields_never_change", testWebhookReceivedFieldsNeverChange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// t0 has nanoseconds so that the suite checks truncation to microseconds.
var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.UTC)

// lanka is a zone away from UTC: stores must hand times back in UTC.
var lanka = time.FixedZone("LKT", 5*3600+1800)

// at returns t0 plus n minutes.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// kept is t as a store hands it back.
func kept(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

func ptr[T any](v T) *T { return &v }

func keptPtr(t time.Time) *time.Time {
	k := kept(t)
	return &k
}

// cmpOpts compares stored values: a segment definition by its JSON (its
// fields are the segment package's business), empty like nil.
var cmpOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Transformer("definition_json", func(d segment.Definition) string {
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Sprintf("marshal: %v", err)
		}
		return string(b)
	}),
}

func diff(want, got any) string { return cmp.Diff(want, got, cmpOpts) }

// checkUTC fails t for any time not in UTC.
func checkUTC(t *testing.T, what string, ts ...time.Time) {
	t.Helper()
	for i, ts := range ts {
		if !ts.IsZero() && ts.Location() != time.UTC {
			t.Errorf("%s: time %d is in %v, want UTC", what, i, ts.Location())
		}
	}
}

// phone returns the n-th test phone number.
func phone(n int) string { return fmt.Sprintf("+9477%07d", n) }
