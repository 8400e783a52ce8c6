fn main() -> std::process::ExitCode {
    runtime::main(billing::SPEC, "BILLING_", billing::setup)
}
