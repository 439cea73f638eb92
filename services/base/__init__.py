"""What every service is built from: settings, logging, Kafka and Redis clients, health, metrics."""
