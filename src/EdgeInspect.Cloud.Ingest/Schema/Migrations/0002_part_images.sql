-- Part images the devices kept for training (disagreements, fail-safe, low confidence, samples), stored as files under
-- the ingest's image root (Ingest:Images:Root) in a folder per device and capture day; path is relative to the root.
-- Keyed like records by (device_id, store_epoch, sequence), so an image joins its record; not partitioned: a few
-- images per hundred parts, and retention of training data is a decision of its own.
CREATE TABLE part_images (
    device_id   text        NOT NULL,
    store_epoch text        NOT NULL,
    sequence    bigint      NOT NULL,
    reason      text        NOT NULL,
    captured_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    path        text        NOT NULL,
    bytes       integer     NOT NULL,
    sha256      text        NOT NULL,
    PRIMARY KEY (device_id, store_epoch, sequence)
);
CREATE INDEX part_images_captured ON part_images (captured_at);
