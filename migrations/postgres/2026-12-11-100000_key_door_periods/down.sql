DROP TABLE key_door_periods;
