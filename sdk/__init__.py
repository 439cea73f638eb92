"""The extension SDK authors import: define_connector, api, ingest, Log, secrets, streams."""
