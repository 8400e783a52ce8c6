use crate::support::billing_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_ready_and_requires_an_internal_token() {
    let config = billing_config("http://127.0.0.1:9");
    testkit::service::assert_boots(&billing::SPEC, |ctx| billing::setup(ctx, config)).await;
}

#[test]
fn refuses_to_start_without_configuration() {
    testkit::service::assert_exits_naming_missing_config(
        env!("CARGO_BIN_EXE_billing"),
        &[
            "BILLING_DATABASE_URL",
            "BILLING_AMQP_URL",
            "BILLING_PORT",
            "BILLING_INTERNAL_TOKEN_SECRET",
            "BILLING_STRIPE_API_KEY",
            "BILLING_STRIPE_WEBHOOK_SECRETS",
        ],
    );
}
