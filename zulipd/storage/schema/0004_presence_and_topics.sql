-- Presence with Zulip's incremental protocol, and case-insensitive topic preferences.

-- One counter per organization. Every presence write takes the next value under
-- this row's lock, so values become visible in the order they were handed out and
-- a client that asks for "everything after N" never misses a slower, earlier write.
CREATE TABLE presence_sequence (
    realm_id integer PRIMARY KEY REFERENCES realm (id),
    last_update_id bigint NOT NULL DEFAULT 0
);
INSERT INTO presence_sequence (realm_id) SELECT id FROM realm;

ALTER TABLE user_presence ADD COLUMN realm_id integer REFERENCES realm (id);
UPDATE user_presence SET realm_id = user_profile.realm_id FROM user_profile WHERE user_profile.id = user_presence.user_id;
ALTER TABLE user_presence ALTER COLUMN realm_id SET NOT NULL;
-- The presence_sequence value of the row's latest write (0: written before this migration).
ALTER TABLE user_presence ADD COLUMN last_update_id bigint NOT NULL DEFAULT 0;
CREATE INDEX user_presence_realm_update ON user_presence (realm_id, last_update_id);
CREATE INDEX user_presence_realm_connected ON user_presence (realm_id, last_connected_time);

-- Zulip matches topics without regard to case: "Lunch" and "lunch" are one topic,
-- with one preference per user.
CREATE UNIQUE INDEX user_topic_user_stream_lower_topic ON user_topic (user_id, stream_id, lower(topic_name));
