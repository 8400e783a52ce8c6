#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_ready_and_requires_an_internal_token() {
    let config = crate::support::config("http://127.0.0.1:9");
    testkit::service::assert_boots(&subscriptions::SPEC, |ctx| subscriptions::setup(ctx, config)).await;
}

#[test]
fn refuses_to_start_without_configuration() {
    testkit::service::assert_exits_naming_missing_config(
        env!("CARGO_BIN_EXE_subscriptions"),
        &[
            "SUBSCRIPTIONS_DATABASE_URL",
            "SUBSCRIPTIONS_AMQP_URL",
            "SUBSCRIPTIONS_PORT",
            "SUBSCRIPTIONS_INTERNAL_TOKEN_SECRET",
            "SUBSCRIPTIONS_BILLING_URL",
        ],
    );
}
