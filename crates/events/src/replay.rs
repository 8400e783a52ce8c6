//! Publishing a service's past events again, to ONE consumer's queue: the last step of restoring
//! that consumer from a backup (docs/runbooks/restore.md).
//!
//! A consumer restored from a snapshot has lost the effects of the events it applied after the
//! snapshot: the broker no longer holds them (they were acked), but every producer still does, in
//! its outbox (published rows are kept `RETENTION_OUTBOX_HOURS`, a week by default). Replaying
//! the producer's rows since the snapshot (minus a margin) into the restored consumer's queue
//! gives it every one of them again; its inbox drops those it already applied (same event id),
//! the others take effect. Only that queue gets the copies (default exchange, by queue name), so
//! no other consumer sees them; a consumer acks the event types it does not handle.
//!
//! Rows the relay has not published yet are left to it. Copies go in the outbox's order, with
//! publisher confirms, `mandatory` (a missing queue is an error, not a silent drop).

use crate::envelope::CONTENT_TYPE;
use crate::outbox::outbox;
use crate::topology::Topology;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use platform::db::Pool;

/// Rows read and published per round trip.
const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] platform::db::PoolError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm event {0} into {1} (does the queue exist?)")]
    NotConfirmed(uuid::Uuid, String),
}

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayReport {
    pub published: u64,
}

/// Publish every event of `pool`'s outbox created at or after `since` and already published,
/// again, to `target`'s queue only. `source` names the producer (logs and the connection name).
pub async fn outbox_to_queue(
    pool: &Pool,
    amqp_url: &str,
    topology: &Topology,
    source: &str,
    target: &str,
    since: DateTime<Utc>,
) -> Result<ReplayReport, ReplayError> {
    let queue = topology.queue(target);
    let props = ConnectionProperties::default().with_connection_name(format!("{source}-outbox-replay").into());
    let conn = crate::broker::connect(amqp_url, props).await?;
    let result = publish_all(pool, &conn, &queue, source, since).await;
    let _ = conn.close(200, "replayed".into()).await;
    result
}

async fn publish_all(
    pool: &Pool,
    conn: &Connection,
    queue: &str,
    source: &str,
    since: DateTime<Utc>,
) -> Result<ReplayReport, ReplayError> {
    let channel = conn.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut after = 0_i64;
    let mut report = ReplayReport::default();
    loop {
        let rows: Vec<(i64, uuid::Uuid, String, String)> = {
            let mut db = pool.get().await?;
            outbox::table
                .filter(outbox::seq.gt(after))
                .filter(outbox::created_at.ge(since))
                .filter(outbox::published_at.is_not_null())
                .order(outbox::seq.asc())
                .limit(BATCH)
                .select((outbox::seq, outbox::event_id, outbox::event_type, outbox::envelope))
                .load(&mut *db)
                .await?
        };
        let Some(last) = rows.last().map(|r| r.0) else { break };
        let mut confirms = Vec::with_capacity(rows.len());
        for (_, id, event_type, envelope) in &rows {
            let mut headers = FieldTable::default();
            // Tells an operator reading the queue where the copy came from.
            headers.insert("x-replayed-from".into(), AMQPValue::LongString(source.into()));
            let properties = BasicProperties::default()
                .with_content_type(CONTENT_TYPE.into())
                .with_message_id(id.to_string().into())
                .with_type(event_type.as_str().into())
                .with_delivery_mode(2)
                .with_timestamp(Utc::now().timestamp() as u64)
                .with_headers(headers);
            let confirm = channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions { mandatory: true, ..Default::default() },
                    envelope.as_bytes(),
                    properties,
                )
                .await?;
            confirms.push((*id, confirm));
        }
        for (id, confirm) in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => report.published += 1,
                _ => return Err(ReplayError::NotConfirmed(id, queue.to_string())),
            }
        }
        after = last;
    }
    tracing::info!(source, queue, published = report.published, %since, "outbox replayed");
    Ok(report)
}
