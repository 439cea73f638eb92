"""First-party connectors (Stripe, Shopify, GitHub, Standard Webhooks), built with the SDK."""
