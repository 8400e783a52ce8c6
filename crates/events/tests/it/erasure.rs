//! The shared half of erasure (`events::erasure::with_erasure`) on the real PostgreSQL: the
//! request runs the service's eraser and writes its confirmation in the caller's transaction; a
//! handler bound to every type gets the request after the erasure; other events pass through.
use crate::support::{count, pool, Ping, Recorder};
use diesel_async::AsyncPgConnection;
use events::catalog::erasure::{ErasureOrigin, ErasureRequested};
use events::erasure::{with_erasure, Eraser};
use events::{CloudEvent, DomainEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex};
use testkit::TestEnv;
use uuid::Uuid;

/// Records whom it was asked to erase.
#[derive(Default)]
struct Erased(Mutex<Vec<Uuid>>);

impl Eraser for Erased {
    fn erase<'a>(&'a self, _conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        self.0.lock().unwrap().push(user);
        Box::pin(async { Ok(()) })
    }
}

/// A handler bound to every type (as webhooks' is): it sees whether the erasure ran before it.
struct Everything {
    eraser: Arc<Erased>,
    saw_erased_first: Mutex<Vec<bool>>,
}

impl EventHandler for Everything {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec!["#"]
    }
    fn handle<'a>(
        &'a self,
        _conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        let request: Option<ErasureRequested> = event.data_as().ok();
        let erased = request.is_some_and(|r| self.eraser.0.lock().unwrap().contains(&r.user_id));
        self.saw_erased_first.lock().unwrap().push(erased);
        Box::pin(async { Ok(()) })
    }
}

fn request(user: Uuid) -> CloudEvent {
    let r = ErasureRequested {
        erasure_id: Uuid::now_v7(),
        user_id: user,
        origin: ErasureOrigin::Admin,
        requested_at: chrono::Utc::now(),
    };
    CloudEvent::new(&r, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_erases_confirms_in_the_same_transaction_and_leaves_other_events_to_the_service() {
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut conn = pool.get().await.unwrap();

    // A service with its own handler: the request is bound beside its types.
    let eraser = Arc::new(Erased::default());
    let recorder = Arc::new(Recorder::default());
    let billing = with_erasure("billing", Some(recorder.clone()), eraser.clone());
    let types = billing.subscriptions();
    assert!(types.contains(&ErasureRequested::TYPE) && types.contains(&Ping::TYPE), "{types:?}");

    let user = Uuid::now_v7();
    let event = request(user);
    billing.handle(&mut conn, &event).await.expect("erased");
    assert_eq!(*eraser.0.lock().unwrap(), vec![user]);
    assert_eq!(recorder.calls(event.id), 0, "the service's handler does not get the request");
    let erasure_id = event.data["erasure_id"].as_str().unwrap().to_string();
    let confirmations = format!(
        "SELECT count(*) AS n FROM outbox WHERE event_type = 'billing.user.erased.v1' AND envelope LIKE '%{erasure_id}%'"
    );
    assert_eq!(count(&mut conn, &confirmations).await, 1, "its confirmation is in the outbox");

    // Other events still reach the service's handler.
    let ping = CloudEvent::new(&Ping { n: 3 }, None).unwrap();
    billing.handle(&mut conn, &ping).await.expect("a ping");
    assert_eq!(recorder.calls(ping.id), 1);

    // A handler bound to everything gets the request too, after the erasure.
    let eraser = Arc::new(Erased::default());
    let everything = Arc::new(Everything { eraser: eraser.clone(), saw_erased_first: Mutex::default() });
    let webhooks = with_erasure("webhooks", Some(everything.clone()), eraser.clone());
    webhooks.handle(&mut conn, &request(user)).await.expect("erased");
    assert_eq!(*everything.saw_erased_first.lock().unwrap(), vec![true]);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE event_type = 'webhooks.user.erased.v1'").await,
        1
    );

    // No handler of its own: only the request is bound; a service outside the protocol is refused.
    let alone = with_erasure("licensing", None, Arc::new(Erased::default()));
    assert_eq!(alone.subscriptions(), vec![ErasureRequested::TYPE]);
    alone.handle(&mut conn, &ping).await.expect("an unbound event is ignored");
    let stranger = with_erasure("gateway", None, Arc::new(Erased::default()));
    match stranger.handle(&mut conn, &request(user)).await {
        Err(HandlerError::Reject(reason)) => assert!(reason.contains("gateway"), "{reason}"),
        other => panic!("a service outside erasure must be refused, got {other:?}"),
    }
    drop(conn);
    env.cleanup(&["events"]).await;
}
