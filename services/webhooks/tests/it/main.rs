//! Webhooks' integration tests.
