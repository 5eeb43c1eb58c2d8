-- Sending a message looks its channel and the sender's subscription up in a cache
-- (zulipd.actions.channel_access). Every change to either table tells every zulipd
-- process, whoever made it (another process, zulipd-admin, an operator's SQL), when
-- it commits: "channels:<realm id>" for a channel, "subscribers:<recipient id>" for a
-- subscription. Row triggers, so a statement that changes no row (as most sends'
-- first-message update) costs nothing; PostgreSQL sends each distinct payload of a
-- transaction once.
CREATE FUNCTION zulipd_channel_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('zulipd_invalidate', 'channels:' || OLD.realm_id);
    ELSE
        PERFORM pg_notify('zulipd_invalidate', 'channels:' || NEW.realm_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER stream_changed AFTER UPDATE OR DELETE ON stream
    FOR EACH ROW EXECUTE FUNCTION zulipd_channel_changed();

CREATE FUNCTION zulipd_subscription_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('zulipd_invalidate', 'subscribers:' || OLD.recipient_id);
    ELSE
        PERFORM pg_notify('zulipd_invalidate', 'subscribers:' || NEW.recipient_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER subscription_changed AFTER INSERT OR UPDATE OR DELETE ON subscription
    FOR EACH ROW EXECUTE FUNCTION zulipd_subscription_changed();
