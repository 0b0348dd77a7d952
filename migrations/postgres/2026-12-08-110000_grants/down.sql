DROP TABLE doorcodes;
DROP TABLE grant_people;
DROP TABLE grant_doors;
DROP TABLE grants;
