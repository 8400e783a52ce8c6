fn main() -> std::process::ExitCode {
    runtime::main(rewards::SPEC, "REWARDS_", rewards::setup)
}
