//! Reading a rendered PDF back with Debian's poppler-utils (`pdfinfo`, `pdftotext`), as a reader
//! of an invoice would: the tests assert on the text a person sees, not on our own renderer.

use uuid::Uuid;

/// Whether poppler-utils is here (installed by scripts/dev-deps.sh for `make test`; tried with
/// apt-get when missing). A test skips its read-back, saying so, when it cannot be had.
pub fn poppler() -> bool {
    let have = || std::process::Command::new("pdfinfo").arg("-v").output().is_ok();
    if !have() {
        let _ = std::process::Command::new("apt-get").args(["install", "-y", "-qq", "poppler-utils"]).status();
    }
    have()
}

/// The PDF's text (`pdftotext -layout`) after checking that `pdfinfo` reads one page titled
/// `title`. Panics when poppler refuses the file.
pub fn read_pdf(bytes: &[u8], title: &str) -> String {
    let path = std::env::temp_dir().join(format!("document-{}.pdf", Uuid::new_v4()));
    std::fs::write(&path, bytes).expect("a temporary file");
    let info = std::process::Command::new("pdfinfo").arg(&path).output().expect("pdfinfo runs");
    assert!(info.status.success(), "pdfinfo refused the PDF: {}", String::from_utf8_lossy(&info.stderr));
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(info.lines().any(|l| l.starts_with("Title:") && l.contains(title)), "{info}");
    let text =
        std::process::Command::new("pdftotext").args(["-layout"]).arg(&path).arg("-").output().expect("pdftotext runs");
    assert!(text.status.success(), "pdftotext: {}", String::from_utf8_lossy(&text.stderr));
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&text.stdout).to_string()
}
