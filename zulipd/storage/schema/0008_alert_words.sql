-- Alert words (Zulip's AlertWord): words or phrases that flag a message for the
-- user who set them. A word keeps the case it was added with; a user has at most
-- one word per lower-cased form. word_lower is Python's str.lower() of word,
-- written by zulipd, so that duplicates, removals and message matching all use
-- one case rule (PostgreSQL's lower() follows the database's locale instead).
CREATE TABLE alert_word (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES user_profile (id),
    realm_id integer NOT NULL REFERENCES realm (id),
    word text NOT NULL CHECK (word <> ''),
    word_lower text NOT NULL
);
CREATE UNIQUE INDEX alert_word_user_word_lower ON alert_word (user_id, word_lower);
CREATE INDEX alert_word_realm ON alert_word (realm_id);
