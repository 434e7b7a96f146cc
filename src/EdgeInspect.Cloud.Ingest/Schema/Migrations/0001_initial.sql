-- The ingest's tables. Time-series tables are range-partitioned by day (PartitionMaintainer creates them ahead and
-- drops them past retention). device_id leads every key, so the schema can be distributed by device unchanged
-- (Citus: create_distributed_table(..., 'device_id'); TimescaleDB: a hypertable with device_id as space dimension).

-- One row per inspection record. PostgreSQL requires a partitioned table's primary key to contain the partition key,
-- so captured_at is part of it: a record sent again carries the same JSON, so the same captured_at, and
-- ON CONFLICT DO NOTHING drops it. (device_id, store_epoch, sequence) is the device's dedupe key.
CREATE TABLE records (
    device_id      text        NOT NULL,
    store_epoch    text        NOT NULL,
    sequence       bigint      NOT NULL,
    captured_at    timestamptz NOT NULL,
    decided_at     timestamptz,
    received_at    timestamptz NOT NULL,
    station        text,
    mode           text,
    model_name     text,
    model_version  text,
    verdict        text,
    verdict_source text,
    model_verdict  text,
    human_verdict  text,
    model_confidence real,
    body           jsonb       NOT NULL,
    PRIMARY KEY (device_id, store_epoch, sequence, captured_at)
) PARTITION BY RANGE (captured_at);
-- Records whose time is outside every created partition (a device clock years off) still land somewhere.
CREATE TABLE records_default PARTITION OF records DEFAULT;

CREATE TABLE telemetry (
    device_id   text        NOT NULL,
    received_at timestamptz NOT NULL,
    body        jsonb       NOT NULL
) PARTITION BY RANGE (received_at);
CREATE INDEX telemetry_device_time ON telemetry (device_id, received_at);
CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;

CREATE TABLE events (
    device_id   text        NOT NULL,
    received_at timestamptz NOT NULL,
    kind        text,
    body        jsonb       NOT NULL
) PARTITION BY RANGE (received_at);
CREATE INDEX events_device_time ON events (device_id, received_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- The latest status (birth / death) per device: the fleet view's "last seen" and "online".
CREATE TABLE device_status (
    device_id            text PRIMARY KEY,
    state                text,
    mode                 text,
    active_model         text,
    active_model_version text,
    software_version     text,
    received_at          timestamptz NOT NULL,
    body                 jsonb
);

-- Messages the ingest could not take, with the reason; the ingest goes on with the next.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text        NOT NULL,
    reason      text        NOT NULL,
    size        integer     NOT NULL,
    payload     bytea
);
CREATE INDEX dead_letters_time ON dead_letters (received_at);
