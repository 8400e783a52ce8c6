use crate::support::config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_ready_and_requires_an_internal_token() {
    testkit::service::assert_boots(&licensing::SPEC, |ctx| licensing::setup(ctx, config())).await;
}

#[test]
fn refuses_to_start_without_configuration() {
    testkit::service::assert_exits_naming_missing_config(
        env!("CARGO_BIN_EXE_licensing"),
        &[
            "LICENSING_DATABASE_URL",
            "LICENSING_AMQP_URL",
            "LICENSING_PORT",
            "LICENSING_INTERNAL_TOKEN_SECRET",
            "LICENSING_CERTIFICATE_SIGNING_KEY_PEM",
            "LICENSING_CERTIFICATE_PUBLIC_KEY_PEM",
            "LICENSING_CODE_HASH_KEY",
        ],
    );
}

#[test]
fn refuses_a_public_key_that_does_not_match_the_signing_key() {
    let mut c = config();
    c.certificate_public_key_pem =
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n".into();
    let err = licensing::certificate::Signer::from_pems(
        c.certificate_signing_key_pem.expose(),
        &c.certificate_public_key_pem,
    )
    .unwrap_err();
    assert!(err.contains("does not match"), "{err}");
}
