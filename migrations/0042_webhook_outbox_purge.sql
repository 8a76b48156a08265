-- Outbound webhooks (issue 14): the outbox keeps case data only while it may still be sent.
-- Once every delivery of an outbox row is settled (delivered or given up) and the row is older
-- than the retention (ITINERA_WEBHOOK_OUTBOX_RETENTION_DAYS), the dispatcher empties its
-- payload and stamps purged_at; the row, its deliveries and their append-only attempts stay as
-- the record of what was sent to whom and when.
ALTER TABLE webhook_outbox ADD COLUMN purged_at timestamptz;
CREATE INDEX webhook_outbox_unpurged ON webhook_outbox (recorded_at) WHERE purged_at IS NULL AND fanned_out;
