-- Channels, subscriptions, user groups, direct-message groups, messages and
-- everything attached to a message.

-- User groups. Each organization has Zulip's system groups ("role:everyone",
-- "role:administrators", ...), whose members follow from users' roles and are
-- never stored; other groups list their members and subgroups.
CREATE TABLE user_group (
    id serial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    is_system_group boolean NOT NULL DEFAULT false,
    deactivated boolean NOT NULL DEFAULT false,
    creator_id integer REFERENCES user_profile (id),
    date_created timestamptz NOT NULL DEFAULT now(),
    -- Group settings (can_mention_group, ...), as group ids or {"direct_members", "direct_subgroups"}.
    settings jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX user_group_realm_name ON user_group (realm_id, lower(name));

CREATE TABLE user_group_member (
    group_id integer NOT NULL REFERENCES user_group (id),
    user_id integer NOT NULL REFERENCES user_profile (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX user_group_member_user ON user_group_member (user_id);

CREATE TABLE user_group_subgroup (
    group_id integer NOT NULL REFERENCES user_group (id),
    subgroup_id integer NOT NULL REFERENCES user_group (id),
    PRIMARY KEY (group_id, subgroup_id),
    CHECK (group_id <> subgroup_id)
);

-- System groups for the organizations that exist already; new ones get theirs when created.
INSERT INTO user_group (realm_id, name, description, is_system_group)
SELECT realm.id, system_group.name, system_group.description, true
FROM realm
CROSS JOIN (VALUES
    ('role:internet', 'Everyone on the internet'),
    ('role:everyone', 'Everyone including guests'),
    ('role:members', 'Everyone except guests'),
    ('role:fullmembers', 'Members of this organization, not new members'),
    ('role:moderators', 'Moderators of this organization, including administrators'),
    ('role:administrators', 'Administrators of this organization, including owners'),
    ('role:owners', 'Owners of this organization'),
    ('role:nobody', 'Nobody')
) AS system_group (name, description);

-- Channels (streams).
CREATE TABLE stream (
    id serial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    rendered_description text NOT NULL DEFAULT '',
    invite_only boolean NOT NULL DEFAULT false,
    history_public_to_subscribers boolean NOT NULL DEFAULT true,
    is_web_public boolean NOT NULL DEFAULT false,
    -- Zulip's stream_post_policy: 1 anyone, 2 administrators, 3 full members, 4 moderators.
    stream_post_policy smallint NOT NULL DEFAULT 1 CHECK (stream_post_policy IN (1, 2, 3, 4)),
    message_retention_days integer,
    creator_id integer REFERENCES user_profile (id),
    date_created timestamptz NOT NULL DEFAULT now(),
    deactivated boolean NOT NULL DEFAULT false,
    first_message_id bigint,
    -- Group settings: can_remove_subscribers_group, can_administer_channel_group, ...
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK (NOT invite_only OR NOT is_web_public)
);
CREATE UNIQUE INDEX stream_realm_name ON stream (realm_id, lower(name));

-- Direct-message groups of three or more people, identified by their sorted member ids.
CREATE TABLE direct_message_group (
    id serial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    member_ids integer[] NOT NULL,
    UNIQUE (realm_id, member_ids)
);

-- Who receives a message: a user (type 1), a channel (type 2) or a direct-message group (type 3).
CREATE TABLE recipient (
    id serial PRIMARY KEY,
    type smallint NOT NULL CHECK (type IN (1, 2, 3)),
    type_id integer NOT NULL,
    UNIQUE (type, type_id)
);

CREATE TABLE subscription (
    user_id integer NOT NULL REFERENCES user_profile (id),
    recipient_id integer NOT NULL REFERENCES recipient (id),
    active boolean NOT NULL DEFAULT true,
    color text NOT NULL DEFAULT '#c2c2c2',
    is_muted boolean NOT NULL DEFAULT false,
    pin_to_top boolean NOT NULL DEFAULT false,
    -- Per-channel notification settings; NULL follows the user's own setting.
    desktop_notifications boolean,
    audible_notifications boolean,
    push_notifications boolean,
    email_notifications boolean,
    wildcard_mentions_notify boolean,
    -- The first message a subscriber of a channel without shared history may read.
    date_subscribed timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, recipient_id)
);
CREATE INDEX subscription_recipient ON subscription (recipient_id) WHERE active;

CREATE TABLE default_stream (
    realm_id integer NOT NULL REFERENCES realm (id),
    stream_id integer NOT NULL REFERENCES stream (id),
    PRIMARY KEY (realm_id, stream_id)
);

CREATE TABLE message (
    id bigserial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    sender_id integer NOT NULL REFERENCES user_profile (id),
    recipient_id integer NOT NULL REFERENCES recipient (id),
    -- The topic; '' for direct messages.
    subject text NOT NULL DEFAULT '',
    content text NOT NULL,
    rendered_content text NOT NULL,
    date_sent timestamptz NOT NULL DEFAULT now(),
    last_edit_time timestamptz,
    last_moved_time timestamptz,
    sending_client text NOT NULL DEFAULT '',
    is_channel_message boolean NOT NULL,
    is_me_message boolean NOT NULL DEFAULT false,
    has_link boolean NOT NULL DEFAULT false,
    has_attachment boolean NOT NULL DEFAULT false,
    has_image boolean NOT NULL DEFAULT false,
    search_tsvector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', subject), 'A') || setweight(to_tsvector('english', content), 'B')
    ) STORED
);
-- A channel's messages, and a topic's, in order.
CREATE INDEX message_recipient_id ON message (recipient_id, id);
CREATE INDEX message_recipient_topic_id ON message (recipient_id, lower(subject), id);
CREATE INDEX message_sender_id ON message (sender_id, id);
CREATE INDEX message_realm_id ON message (realm_id, id);
CREATE INDEX message_search ON message USING gin (search_tsvector);

-- Each message a user has: received, or readable by them and marked (historical).
-- flags is Zulip's bitmask: 1 read, 2 starred, 4 collapsed, 8 mentioned, 16 stream_wildcard_mentioned,
-- 32 topic_wildcard_mentioned, 64 has_alert_word, 128 historical, 256 is_private, 512 active_mobile_push_notification.
CREATE TABLE user_message (
    user_id integer NOT NULL REFERENCES user_profile (id),
    message_id bigint NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    flags bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX user_message_message ON user_message (message_id);
CREATE INDEX user_message_unread ON user_message (user_id, message_id) WHERE flags & 1 = 0;
CREATE INDEX user_message_starred ON user_message (user_id, message_id) WHERE flags & 2 <> 0;
CREATE INDEX user_message_mentioned ON user_message (user_id, message_id) WHERE flags & 120 <> 0;
CREATE INDEX user_message_private ON user_message (user_id, message_id) WHERE flags & 256 <> 0;

CREATE TABLE message_edit (
    id bigserial PRIMARY KEY,
    message_id bigint NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    user_id integer REFERENCES user_profile (id),
    edit_time timestamptz NOT NULL DEFAULT now(),
    prev_content text,
    prev_rendered_content text,
    prev_topic text,
    topic text,
    prev_stream_id integer,
    stream_id integer
);
CREATE INDEX message_edit_message ON message_edit (message_id, id);

CREATE TABLE reaction (
    message_id bigint NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES user_profile (id),
    emoji_name text NOT NULL,
    emoji_code text NOT NULL,
    -- unicode_emoji, realm_emoji or zulip_extra_emoji
    reaction_type text NOT NULL,
    PRIMARY KEY (message_id, user_id, reaction_type, emoji_code)
);

-- Personal topic preferences: 0 inherit, 1 muted, 2 unmuted, 3 followed.
CREATE TABLE user_topic (
    user_id integer NOT NULL REFERENCES user_profile (id),
    stream_id integer NOT NULL REFERENCES stream (id),
    topic_name text NOT NULL,
    visibility_policy smallint NOT NULL CHECK (visibility_policy IN (1, 2, 3)),
    last_updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, stream_id, topic_name)
);

CREATE TABLE user_presence (
    user_id integer PRIMARY KEY REFERENCES user_profile (id),
    last_active_time timestamptz,
    last_connected_time timestamptz
);

CREATE TABLE realm_emoji (
    id serial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    name text NOT NULL,
    file_name text NOT NULL DEFAULT '',
    author_id integer REFERENCES user_profile (id),
    deactivated boolean NOT NULL DEFAULT false,
    UNIQUE (realm_id, name)
);
