"""Every Kafka topic the suite speaks (name, type, key, policy, owners) and the manifest schema."""
