DROP TABLE secret_check;
DROP TABLE access_codes;
