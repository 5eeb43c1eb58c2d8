-- Users and bots, their sessions, bot storage, and the audit log.

CREATE TABLE user_profile (
    id serial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    -- The address used in the API; delivery_email is the real one.
    email text NOT NULL,
    delivery_email text NOT NULL,
    full_name text NOT NULL,
    -- Zulip's roles: 100 owner, 200 administrator, 300 moderator, 400 member, 600 guest.
    role smallint NOT NULL DEFAULT 400 CHECK (role IN (100, 200, 300, 400, 600)),
    is_active boolean NOT NULL DEFAULT true,
    is_bot boolean NOT NULL DEFAULT false,
    -- 1 generic, 2 incoming webhook, 3 outgoing webhook, 4 embedded; NULL for humans.
    bot_type smallint CHECK (bot_type IN (1, 2, 3, 4)),
    bot_owner_id integer REFERENCES user_profile (id),
    api_key text NOT NULL UNIQUE CHECK (api_key ~ '^[A-Za-z0-9]{32}$'),
    -- bcrypt of a SHA-256 pre-hash; NULL: no password login.
    password_hash text,
    date_joined timestamptz NOT NULL DEFAULT now(),
    timezone text NOT NULL DEFAULT '',
    avatar_version integer NOT NULL DEFAULT 1,
    -- User settings that differ from the defaults, keyed by setting name.
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK ((is_bot AND bot_type IS NOT NULL) OR (NOT is_bot AND bot_type IS NULL AND bot_owner_id IS NULL))
);
CREATE UNIQUE INDEX user_profile_realm_delivery_email ON user_profile (realm_id, lower(delivery_email));
CREATE UNIQUE INDEX user_profile_realm_email ON user_profile (realm_id, lower(email));
CREATE INDEX user_profile_bot_owner ON user_profile (bot_owner_id) WHERE bot_owner_id IS NOT NULL;

-- Where an outgoing-webhook or embedded bot sends the messages that trigger it.
CREATE TABLE bot_service (
    bot_id integer PRIMARY KEY REFERENCES user_profile (id),
    base_url text NOT NULL DEFAULT '',
    token text NOT NULL,
    -- 1 generic (Zulip's format), 2 Slack-compatible.
    interface smallint NOT NULL DEFAULT 1,
    service_name text NOT NULL DEFAULT '',
    config jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Browser sessions for /json. The cookie holds the key; only its SHA-256 is stored.
CREATE TABLE user_session (
    key_hash text PRIMARY KEY,
    user_id integer NOT NULL REFERENCES user_profile (id),
    csrf_token text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    expires timestamptz NOT NULL
);
CREATE INDEX user_session_user ON user_session (user_id);

-- Key-value storage for bots (zulip_bots' StateHandler).
CREATE TABLE bot_storage (
    bot_id integer NOT NULL REFERENCES user_profile (id),
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (bot_id, key)
);

-- Every change to a user, role, key or password, in the style of Zulip's RealmAuditLog.
CREATE TABLE realm_audit_log (
    id bigserial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    event_type text NOT NULL,
    event_time timestamptz NOT NULL DEFAULT now(),
    acting_user_id integer REFERENCES user_profile (id),
    modified_user_id integer REFERENCES user_profile (id),
    -- {"old_value": ..., "new_value": ..., ...}
    extra_data jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX realm_audit_log_modified_user ON realm_audit_log (modified_user_id, event_time);
