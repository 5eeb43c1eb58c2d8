-- Sending a message looks its channel and the sender's subscription up in a cache
-- (zulipd.actions.channel_access). Every change to either table tells every zulipd
-- process, whoever made it (another process, zulipd-admin, an operator's SQL), when
-- it commits: "channels:<realm id>" for a channel, "subscribers:<recipient id>" for a
-- subscription. Row triggers, so a statement that changes no row (as most sends'
-- first-message update) costs nothing; PostgreSQL sends each distinct payload of a
-- transaction once.
--
-- zulipd_notify_change(KIND, COLUMN) sends "KIND:<the changed row's COLUMN>".
CREATE FUNCTION zulipd_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    PERFORM pg_notify('zulipd_invalidate', TG_ARGV[0] || ':' || (changed ->> TG_ARGV[1]));
    RETURN NULL;
END
$$;

CREATE TRIGGER stream_changed AFTER UPDATE OR DELETE ON stream
    FOR EACH ROW EXECUTE FUNCTION zulipd_notify_change('channels', 'realm_id');

CREATE TRIGGER subscription_changed AFTER INSERT OR UPDATE OR DELETE ON subscription
    FOR EACH ROW EXECUTE FUNCTION zulipd_notify_change('subscribers', 'recipient_id');
