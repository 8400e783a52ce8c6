fn main() -> std::process::ExitCode {
    runtime::main(webhooks::SPEC, "WEBHOOKS_", webhooks::setup)
}
