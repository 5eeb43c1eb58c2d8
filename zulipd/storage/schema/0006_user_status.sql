-- Users' statuses: a short text and an emoji, as Zulip's UserStatus keeps them.
-- A row is written by the first status update and never deleted: clearing a
-- status stores empty values. The deprecated "away" is not stored here; it is the
-- user's presence_enabled setting (user_profile.settings), turned around.
CREATE TABLE user_status (
    user_id integer PRIMARY KEY REFERENCES user_profile (id),
    realm_id integer NOT NULL REFERENCES realm (id),
    status_text text NOT NULL DEFAULT '',
    -- An empty emoji_name means no emoji; emoji_code is then empty too.
    emoji_name text NOT NULL DEFAULT '',
    emoji_code text NOT NULL DEFAULT '',
    -- unicode_emoji, realm_emoji or zulip_extra_emoji
    reaction_type text NOT NULL DEFAULT 'unicode_emoji'
        CHECK (reaction_type IN ('unicode_emoji', 'realm_emoji', 'zulip_extra_emoji')),
    updated_at timestamptz NOT NULL
);
CREATE INDEX user_status_realm ON user_status (realm_id);
