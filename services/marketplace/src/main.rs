fn main() -> std::process::ExitCode {
    runtime::main(marketplace::SPEC, "MARKETPLACE_", marketplace::setup)
}
