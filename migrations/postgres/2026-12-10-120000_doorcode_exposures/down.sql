DROP TABLE doorcode_exposures;
