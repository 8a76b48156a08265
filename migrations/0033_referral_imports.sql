-- Bulk referral imports (issue 14): a supervisor uploads a CSV or JSON file; each referral
-- in it is one row here, judged at upload (invalid rows are final at once) and referred by
-- the ReferralImport workflow's activities (workflows/referral_import.py,
-- activities/referral_import.py).  The workflow's history holds only the import id and row
-- ranges: the personal data stays in PostgreSQL.
CREATE TABLE referral_imports (
    import_id      text PRIMARY KEY,
    offices        text[] NOT NULL,          -- the uploader's offices at upload: who may read the job
    uploaded_by    text NOT NULL,
    actor          jsonb NOT NULL,           -- the Actor every referral of the job is recorded as
    source_ip      text,
    file_name      text,
    file_format    text NOT NULL CHECK (file_format IN ('csv', 'json')),
    file_sha256    text NOT NULL,
    total          integer NOT NULL,         -- referrals in the file (rows of this job)
    terms          jsonb NOT NULL,           -- the deployment's referral terms (as POST /api/v1/cases uses)
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX referral_imports_created ON referral_imports (created_at DESC);

CREATE TABLE referral_import_rows (
    import_id            text NOT NULL REFERENCES referral_imports (import_id) ON DELETE CASCADE,
    item                 integer NOT NULL,    -- 1-based position of the referral in the file
    lines                integer[] NOT NULL,  -- CSV: the file's line numbers (header = 1); JSON: [item]
    external_referral_id text,
    case_id              text,
    referral             jsonb,               -- the validated referral; NULL when invalid
    known_before         boolean NOT NULL DEFAULT false,  -- the read model knew the referral id at upload
    outcome              text NOT NULL DEFAULT 'pending'
                         CHECK (outcome IN ('pending', 'created', 'already_referred', 'invalid', 'failed')),
    errors               jsonb NOT NULL DEFAULT '[]',     -- [{field, reason, allowed}]
    attempts             integer NOT NULL DEFAULT 0,
    decided_at           timestamptz,
    PRIMARY KEY (import_id, item)
);
CREATE INDEX referral_import_rows_outcome ON referral_import_rows (import_id, outcome, item);

GRANT SELECT, INSERT, UPDATE, DELETE ON referral_imports, referral_import_rows TO itinera_app;
