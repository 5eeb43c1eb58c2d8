-- Organizations (Zulip's realms). zulipd is multi-tenant: every row in
-- every later table belongs to one realm.
CREATE TABLE realm (
    id serial PRIMARY KEY,
    -- The subdomain under [server] external_host. [server] root_realm names the one
    -- also served at external_host itself.
    string_id text NOT NULL UNIQUE,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    deactivated boolean NOT NULL DEFAULT false,
    date_created timestamptz NOT NULL DEFAULT now(),
    -- Realm settings that differ from Zulip's defaults, keyed by setting name.
    settings jsonb NOT NULL DEFAULT '{}'::jsonb
);
