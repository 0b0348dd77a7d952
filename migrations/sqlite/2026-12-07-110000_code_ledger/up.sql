-- The code-exposure ledger (issue 11): the codes a person knows are read through their
-- exposures as a person and, when they are a user, as that user (reveals, values typed).
CREATE INDEX code_exposures_org_user ON code_exposures (org_id, user_id, code_id) WHERE user_id IS NOT NULL;
