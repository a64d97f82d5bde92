-- Initial schema of the edge API's D1 database. Timestamps are ISO 8601 UTC strings from
-- Date.prototype.toISOString, so they sort and compare as text.

-- API keys. Only the SHA-256 of each key is stored; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  -- Credits the key may spend; NULL means unmetered.
  credits INTEGER,
  -- Requests per minute; NULL means the deployment's RATE_LIMIT_PER_MINUTE.
  rate_limit_per_minute INTEGER,
  -- Edits per day; NULL means no daily quota.
  edits_per_day INTEGER,
  -- Key of the HMAC-SHA256 Semani-Signature on this key's webhooks.
  webhook_secret TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

-- Edit jobs, one row per accepted POST /v1/edits.
CREATE TABLE edits (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL REFERENCES api_keys (id),
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  edits_json TEXT NOT NULL,
  settings_json TEXT NOT NULL,
  input_sha256 TEXT NOT NULL,
  input_format TEXT NOT NULL,
  input_width INTEGER NOT NULL,
  input_height INTEGER NOT NULL,
  input_size_bytes INTEGER NOT NULL,
  units INTEGER NOT NULL,
  webhook_url TEXT,
  -- Mask-cache key of a single-edit request; NULL when the request is not cacheable.
  mask_cache_key TEXT,
  mask_cache TEXT CHECK (mask_cache IN ('hit', 'miss')),
  attempts INTEGER NOT NULL DEFAULT 0,
  prediction_id TEXT,
  result_json TEXT,
  error_json TEXT,
  last_error TEXT,
  request_id TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX edits_by_key_status ON edits (key_id, status);

-- One charge per succeeded edit: the primary key makes a repeated completion a no-op.
CREATE TABLE usage_ledger (
  edit_id TEXT PRIMARY KEY REFERENCES edits (id),
  key_id TEXT NOT NULL,
  units INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX usage_by_key_time ON usage_ledger (key_id, created_at);

-- Idempotency-Key header values of POST /v1/edits, per API key.
CREATE TABLE idempotency_keys (
  key_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  edit_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (key_id, idempotency_key)
);

-- Direct uploads announced through POST /v1/uploads.
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  content_type TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
