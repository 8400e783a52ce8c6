#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_ready_and_requires_an_internal_token() {
    testkit::service::assert_boots(&rewards::SPEC, |ctx| rewards::setup(ctx, Default::default())).await;
}

#[test]
fn refuses_to_start_without_configuration() {
    testkit::service::assert_exits_naming_missing_config(
        env!("CARGO_BIN_EXE_rewards"),
        &[
            "REWARDS_DATABASE_URL",
            "REWARDS_AMQP_URL",
            "REWARDS_PORT",
            "REWARDS_INTERNAL_TOKEN_SECRET",
            "REWARDS_CODE_HASH_KEY",
        ],
    );
}
