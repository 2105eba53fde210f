-- A user's language is a choice saved on their account, not on one login: it wins over the browser's
-- Accept-Language and follows the user to every tablet and session. NULL means "not chosen", and pages
-- then speak Bahasa Indonesia (sessions.language stays as the language the session was opened in).
ALTER TABLE users
    ADD COLUMN language text CONSTRAINT user_language_known CHECK (language IN ('id', 'en'));
COMMENT ON COLUMN users.language IS
    'The language the user chose for pages and problem titles (id, en); NULL: not chosen, Bahasa Indonesia.';
