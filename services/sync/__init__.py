"""The sync service: scheduled polling of streams, OAuth refresh, test-connection, status."""
