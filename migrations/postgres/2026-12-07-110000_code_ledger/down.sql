DROP INDEX code_exposures_org_user;
