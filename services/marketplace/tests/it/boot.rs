#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_ready_and_requires_an_internal_token() {
    let dir = std::env::temp_dir().join(format!("marketplace-boot-{}", uuid::Uuid::new_v4()));
    let mut config = marketplace::Config::with_billing_url("http://127.0.0.1:9");
    config.content_dir = dir.to_string_lossy().into_owned();
    testkit::service::assert_boots(&marketplace::SPEC, |ctx| marketplace::setup(ctx, config)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn refuses_to_start_without_configuration() {
    testkit::service::assert_exits_naming_missing_config(
        env!("CARGO_BIN_EXE_marketplace"),
        &[
            "MARKETPLACE_DATABASE_URL",
            "MARKETPLACE_AMQP_URL",
            "MARKETPLACE_PORT",
            "MARKETPLACE_INTERNAL_TOKEN_SECRET",
            "MARKETPLACE_BILLING_URL",
            "MARKETPLACE_REWARDS_URL",
        ],
    );
}
