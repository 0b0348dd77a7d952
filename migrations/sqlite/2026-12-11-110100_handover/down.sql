DROP TABLE key_handovers;
