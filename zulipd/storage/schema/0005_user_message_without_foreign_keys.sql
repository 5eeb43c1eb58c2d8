-- user_message gets one row per recipient of every message: a send to a channel of 100
-- subscribers writes 100 rows. Checking each row's two foreign keys fired two triggers per
-- row and cost about twice as much as writing the rows and their indexes. The rows are
-- written only in the transaction that writes their message, for users who exist, and users
-- are deactivated, never deleted; deleting a message deletes its rows explicitly
-- (zulipd/storage/message_updates.py delete_message_txn).
ALTER TABLE user_message DROP CONSTRAINT user_message_user_id_fkey;
ALTER TABLE user_message DROP CONSTRAINT user_message_message_id_fkey;
