//! `cargo run -p contracts`: rewrite proto-schemas/openapi.json from the code.

fn main() -> std::process::ExitCode {
    match std::fs::write(contracts::OPENAPI_PATH, contracts::render()) {
        Ok(()) => {
            println!("wrote {}", contracts::OPENAPI_PATH);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("contracts: {}: {e}", contracts::OPENAPI_PATH);
            std::process::ExitCode::FAILURE
        }
    }
}
