//! Outbox, relay, consumer and DLQ against the real PostgreSQL and RabbitMQ.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod amqps;
mod broker_restart;
mod catalog;
mod consumer;
mod dlq_replay;
mod erasure;
mod operator_cli;
mod outbox;
mod outbox_replay;
mod retry;
mod support;
mod test_clocks;
mod wire_names;
