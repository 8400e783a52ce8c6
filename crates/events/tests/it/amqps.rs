//! RabbitMQ over `amqps://` against a throwaway node this test starts (own node name, ports,
//! configuration and data) with a certificate from its own CA. The shared broker is not used for
//! the TLS part; the outbox lives in the shared PostgreSQL as in the other tests.

use crate::support::{pool, Ping};
use diesel_async::AsyncConnection;
use events::broker::{connect, BrokerStatus};
use events::relay::Relay;
use events::topology::Topology;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::ConnectionProperties;
use std::time::Duration;
use testkit::tls::{Pki, RabbitServer, TempDir};
use testkit::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_amqps_round_trip_with_the_ca_and_refused_with_a_wrong_one() {
    let dir = TempDir::new("amqp-tls-pki");
    let pki = Pki::new(dir.path(), "amqp", &["localhost"]);
    let other = Pki::new(dir.path(), "other", &["localhost"]);
    let Some(node) = RabbitServer::start(&pki) else {
        eprintln!("SKIPPED: RabbitMQ is not installed (/usr/lib/rabbitmq/bin/rabbitmq-server)");
        return;
    };
    let ca = pki.ca_cert.display();
    let url = format!("amqps://guest:guest@localhost:{}/%2f?cacertfile={ca}", node.tls_port);
    let props = || ConnectionProperties::default().with_connection_name("tls-test".into());

    // Untrusted CA, no CA (the system store does not know the test CA), wrong host name, and a CA
    // file given for a plaintext URL: all refused, each saying why.
    let wrong_ca =
        format!("amqps://guest:guest@localhost:{}/%2f?cacertfile={}", node.tls_port, other.ca_cert.display());
    let err = connect(&wrong_ca, props()).await.expect_err("an untrusted CA must fail").to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let no_ca = format!("amqps://guest:guest@localhost:{}/%2f", node.tls_port);
    assert!(connect(&no_ca, props()).await.is_err(), "the test CA is in no system store");
    let wrong_host = format!("amqps://guest:guest@127.0.0.1:{}/%2f?cacertfile={ca}", node.tls_port);
    let err = connect(&wrong_host, props()).await.expect_err("the certificate is for localhost").to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let plain = format!("amqp://guest:guest@localhost:{}/%2f?cacertfile={ca}", node.plain_port);
    let err = connect(&plain, props()).await.expect_err("a CA for a plaintext URL is a mistake").to_string();
    assert!(err.contains("not amqps://"), "{err}");
    let missing = format!("amqps://guest:guest@localhost:{}/%2f?cacertfile=/nonexistent/ca.crt", node.tls_port);
    let err = connect(&missing, props()).await.expect_err("no CA file").to_string();
    assert!(err.contains("cannot read the broker's CA file"), "{err}");

    // With the CA: the outbox relay publishes over amqps (with confirms), a consumer over amqps
    // gets the event.
    let env = TestEnv::new();
    let topology = Topology::new(&env.exchange, &env.queue_prefix);
    let conn = connect(&url, props()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    topology.declare_exchanges(&ch).await.unwrap();
    let queue = format!("{}tls", env.queue_prefix);
    ch.queue_declare(queue.as_str().into(), QueueDeclareOptions::default(), FieldTable::default()).await.unwrap();
    ch.queue_bind(
        queue.as_str().into(),
        env.exchange.as_str().into(),
        "test.ping.v1".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(queue.as_str().into(), "tls-test".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .unwrap();

    let pool = pool(&env).await;
    let status = BrokerStatus::default();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let relay = Relay::new(pool.clone(), &url, &env.exchange, "test", status.clone()).spawn(rx);
    let mut db = pool.get().await.unwrap();
    db.transaction(async |c| events::outbox::enqueue(c, &Ping { n: 7 }).await).await.unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(20), consumer.next())
        .await
        .expect("the event arrives over amqps")
        .expect("a delivery")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
    assert_eq!(body["type"], "test.ping.v1", "{body}");
    assert_eq!(body["data"]["n"], 7, "{body}");
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    assert!(status.is_up(), "the relay is connected over amqps");

    stop.send(true).unwrap();
    relay.await.unwrap();
    let _ = conn.close(200, "bye".into()).await;
    env.cleanup(&["events"]).await;
}
