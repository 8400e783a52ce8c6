//! Invoices and credit notes as PDF (pdf-writer): one A4 page per document in the standard
//! Helvetica font, which every PDF reader has, so no font file is embedded. Text is encoded in
//! WinAnsi (Latin-1 and the euro sign); a character outside it prints as `?`.

use crate::domain::invoice::Printable;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const LEFT: f32 = 56.0;
const AMOUNT_RIGHT: f32 = WIDTH - 56.0;
/// Lines printed past this are dropped (50 lines at most per payment fit with room to spare).
const BOTTOM: f32 = 60.0;

/// WinAnsi bytes of `s`: ASCII and Latin-1 as themselves, the euro sign as 0x80, the rest `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20AC}' => 0x80,
            c if (' '..='~').contains(&c) || ('\u{A0}'..='\u{FF}').contains(&c) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// Helvetica's advance widths are not embedded: amounts are right-aligned by an estimate of
/// 0.556 em per character (Helvetica's digits are all exactly that wide).
fn right_aligned_x(text: &str, size: f32) -> f32 {
    AMOUNT_RIGHT - text.chars().count() as f32 * 0.556 * size
}

struct Page {
    content: Content,
    y: f32,
}

impl Page {
    fn text(&mut self, x: f32, size: f32, font: Name, text: &str) {
        if self.y < BOTTOM {
            return;
        }
        self.content.begin_text();
        self.content.set_font(font, size);
        self.content.next_line(x, self.y);
        self.content.show(Str(&win_ansi(text)));
        self.content.end_text();
    }

    fn row(&mut self, label: &str, amount: &str, font: Name) {
        self.text(LEFT, 10.0, font, label);
        self.text(right_aligned_x(amount, 10.0), 10.0, font, amount);
        self.y -= 15.0;
    }

    fn rule(&mut self) {
        self.content.set_line_width(0.5);
        self.content.move_to(LEFT, self.y + 10.0);
        self.content.line_to(AMOUNT_RIGHT, self.y + 10.0);
        self.content.stroke();
        self.y -= 6.0;
    }
}

/// The document as a PDF file.
pub fn render(doc: &Printable<'_>) -> Vec<u8> {
    let (catalog, pages, page_id, content_id, regular, bold, info) =
        (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5), Ref::new(6), Ref::new(7));
    let (f_regular, f_bold) = (Name(b"F1"), Name(b"F2"));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT)).parent(pages).contents(content_id);
    page.resources().fonts().pair(f_regular, regular).pair(f_bold, bold);
    page.finish();
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    let title = format!("{} {}", doc.title, doc.number);
    pdf.document_info(info).title(TextStr(&title)).creator(TextStr("billing"));

    let mut p = Page { content: Content::new(), y: HEIGHT - 72.0 };
    p.text(LEFT, 18.0, f_bold, &title);
    p.y -= 20.0;
    p.text(LEFT, 10.0, f_regular, &format!("Issued {}", doc.issued_at.format("%Y-%m-%d")));
    p.y -= 14.0;
    if let Some(reference) = &doc.reference {
        p.text(LEFT, 10.0, f_regular, reference);
        p.y -= 14.0;
    }
    p.y -= 10.0;
    for (heading, lines) in [("From", Some(doc.seller.lines())), ("To", doc.customer.map(|c| c.lines()))] {
        p.text(LEFT, 11.0, f_bold, heading);
        p.y -= 14.0;
        for line in lines.unwrap_or_else(|| vec!["No billing details given".into()]) {
            p.text(LEFT, 10.0, f_regular, &line);
            p.y -= 13.0;
        }
        p.y -= 10.0;
    }
    p.row("Description", "Amount", f_bold);
    p.rule();
    for (description, amount) in &doc.lines {
        p.row(description, &amount.to_string(), f_regular);
    }
    p.rule();
    for (label, amount) in doc.totals() {
        let font = if label == "Total" { f_bold } else { f_regular };
        p.row(&label, &amount.to_string(), font);
    }
    pdf.stream(content_id, &p.content.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_in_win_ansi() {
        assert_eq!(win_ansi("A 9.99 €"), b"A 9.99 \x80".to_vec());
        assert_eq!(win_ansi("Müller"), b"M\xfcller".to_vec());
        assert_eq!(win_ansi("東京"), b"??".to_vec());
    }
}
