fn main() -> std::process::ExitCode {
    runtime::main(subscriptions::SPEC, "SUBSCRIPTIONS_", subscriptions::setup)
}
