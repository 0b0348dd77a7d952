-- SQLite only (decision 187): PostgreSQL's holders are indexed on keys since decision 184
-- (keys_org_holder_grams, only keys with a holder), and a status change writes no index
-- entry unless the key goes to a holder.
SELECT 1;
