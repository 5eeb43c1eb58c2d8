-- Linkifiers (Zulip's RealmFilter): an organization's regular expressions whose
-- matches in messages and topics become links, each built from an RFC 6570 URL
-- template. They apply in ("order", id) order: a new one goes last, and
-- PATCH /realm/linkifiers renumbers them all 0, 1, 2... An organization has at
-- most one linkifier per pattern (patterns are stored trimmed, as Zulip stores them).
CREATE TABLE realm_linkifier (
    id serial PRIMARY KEY,
    realm_id integer NOT NULL REFERENCES realm (id),
    pattern text NOT NULL CHECK (pattern <> ''),
    url_template text NOT NULL CHECK (url_template <> ''),
    "order" integer NOT NULL DEFAULT 0,
    UNIQUE (realm_id, pattern)
);
CREATE INDEX realm_linkifier_realm_order ON realm_linkifier (realm_id, "order", id);
