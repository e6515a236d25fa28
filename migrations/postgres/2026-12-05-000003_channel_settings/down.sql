DROP TABLE channel_settings;
