-- House styles (bot/styles.py): a name, a text fragment appended to prompts and up to four
-- reference images, kept by one person or by the whole workspace. The reference images are
-- ordinary stored images (their bytes are blobs), named here by id, so deleting a style never
-- deletes an image, and an image made with a style keeps its lineage.
CREATE TABLE styles (
    id         INTEGER PRIMARY KEY,
    platform   TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    owner      TEXT NOT NULL,  -- UserRef.key of the person who keeps it, or '' for the workspace
    name       TEXT NOT NULL,  -- as typed
    name_key   TEXT NOT NULL,  -- lower-cased: names are unique per scope whatever their case
    text       TEXT NOT NULL,
    image_ids  TEXT NOT NULL,  -- JSON list of images.id, in the order they are sent
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (platform, workspace, owner, name_key)
);
