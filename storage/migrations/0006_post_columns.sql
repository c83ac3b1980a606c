-- Where a job's messages were posted, as columns instead of a "kind:channel:message" string:
-- what kind of post (status, upload, result, final), in which channel, and the message's id
-- (NULL while unknown, e.g. files uploaded before their message was seen). `message_ref` keeps
-- the whole reference as the row's identity, so recording a post twice stays one row.
ALTER TABLE posts ADD COLUMN kind TEXT;
ALTER TABLE posts ADD COLUMN channel TEXT;
ALTER TABLE posts ADD COLUMN message TEXT;
UPDATE posts SET
    kind = substr(message_ref, 1, instr(message_ref, ':') - 1),
    channel = substr(
        substr(message_ref, instr(message_ref, ':') + 1),
        1,
        instr(substr(message_ref, instr(message_ref, ':') + 1), ':') - 1
    ),
    message = nullif(
        substr(
            substr(message_ref, instr(message_ref, ':') + 1),
            instr(substr(message_ref, instr(message_ref, ':') + 1), ':') + 1
        ),
        '-'
    );
CREATE INDEX posts_by_job_kind ON posts(job_id, kind);
