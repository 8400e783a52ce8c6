//! Outbox, relay, consumer and DLQ against the real PostgreSQL and RabbitMQ.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod amqps;
mod broker_restart;
mod catalog;
mod consumer;
mod dlq_replay;
mod outbox;
mod operator_cli;
mod outbox_replay;
mod retry;
mod wire_names;
mod support;
