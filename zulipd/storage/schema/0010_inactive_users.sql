-- The deactivated users, few in any organization: sending a message leaves them out of
-- its recipients through this index, without reading the active ones.
CREATE INDEX user_profile_inactive ON user_profile (id) WHERE NOT is_active;
