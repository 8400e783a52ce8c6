fn main() -> std::process::ExitCode {
    runtime::main(licensing::SPEC, "LICENSING_", licensing::setup)
}
