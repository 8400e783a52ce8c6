//! HTML answers (receipts, invoices): one place for the headers every HTML page carries and for
//! escaping the values interpolated into it.
//!
//! The pages are self-contained documents a browser may render on the API's own origin, so they
//! get the strictest policy that still shows them: no script of any kind, no plugin, no framing,
//! no form, no `<base>`; inline `<style>` and `data:` images only (a logo embedded in the page).
//! A value that escaped [`escape`] by mistake still could not run.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::HttpResponse;

/// `Content-Security-Policy` of every HTML answer. `default-src 'none'` also covers `script-src`,
/// `connect-src`, `font-src`, `object-src`...: nothing is fetched or run that is not listed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The headers of every HTML answer, as (name, value).
pub fn security_headers() -> [(HeaderName, HeaderValue); 3] {
    [
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ]
}

/// A 200 `text/html` answer with [`security_headers`]. `page` must have been built with
/// [`escape`] around every value that did not come from the code itself.
pub fn response(page: String) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.content_type("text/html; charset=utf-8");
    for h in security_headers() {
        res.insert_header(h);
    }
    res.body(page)
}

/// `s` as HTML text or a double- or single-quoted attribute value: the five characters that
/// can end a text node or an attribute are replaced by their character references.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        let hostile = r#"</td><script>alert("x")</script><img src=x onerror='y'>&amp;"#;
        let escaped = escape(hostile);
        assert_eq!(
            escaped,
            "&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;y&#39;&gt;&amp;amp;"
        );
        for c in ['<', '>', '"', '\''] {
            assert!(!escaped.contains(c), "{c} left in {escaped}");
        }
        assert_eq!(escape("Café 9.99 USD"), "Café 9.99 USD", "text without markup is unchanged");
    }

    #[test]
    fn the_policy_allows_no_script_frame_form_or_base() {
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
        for wanted in
            ["default-src 'none'", "img-src data:", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]
        {
            assert!(directives.contains(&wanted), "{wanted} missing from {CONTENT_SECURITY_POLICY}");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("script-src"), "scripts fall under default-src 'none'");
        assert!(!CONTENT_SECURITY_POLICY.contains('*'), "no wildcard source");
    }

    #[test]
    fn a_response_carries_every_header() {
        let res = response("<p>ok</p>".into());
        let h = res.headers();
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "text/html; charset=utf-8");
        assert_eq!(h.get(header::CONTENT_SECURITY_POLICY).unwrap(), CONTENT_SECURITY_POLICY);
        assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    }
}
