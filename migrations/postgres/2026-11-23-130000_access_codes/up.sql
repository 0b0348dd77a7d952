-- Access codes. The value is stored only sealed (AES-256-GCM, base64 of nonce and
-- ciphertext) with a keyed hash (HMAC-SHA256, hex) for exact-match search.

CREATE TABLE access_codes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    development_id TEXT NOT NULL REFERENCES developments (id),
    code_type TEXT NOT NULL,
    label TEXT COLLATE "C" NOT NULL,
    code_sealed TEXT NOT NULL,
    code_lookup TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_on DATE,
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL,
    -- Lower-cased label, kept by the application.
    search_text TEXT NOT NULL
);
CREATE INDEX access_codes_org_label ON access_codes (org_id, label);
CREATE INDEX access_codes_org_development_label ON access_codes (org_id, development_id, label);
CREATE INDEX access_codes_org_lookup ON access_codes (org_id, code_lookup);
CREATE INDEX access_codes_search_trgm ON access_codes USING gin (search_text gin_trgm_ops);

-- One row: a known value sealed under the key the secrets are sealed with, so that a
-- wrong key is refused at start-up instead of answering garbage later.
CREATE TABLE secret_check (
    id INTEGER PRIMARY KEY,
    sealed TEXT NOT NULL
);
