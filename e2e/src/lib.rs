//! End-to-end tests of the monetization platform. Nothing lives here: the flows are in
//! `tests/flows/` (one test binary), which start stripe-fake, the five domain services and the
//! gateway in-process against the real PostgreSQL and RabbitMQ and drive them through the gateway.
