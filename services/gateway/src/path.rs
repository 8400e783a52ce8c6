//! The one path the gateway routes and forwards.
//!
//! The route table matches the request's path exactly as the client sent it, and that same string
//! is forwarded upstream. A path is accepted only when it is already in normal form, because any
//! other spelling has a second reading somewhere downstream: reqwest's URL parser (WHATWG rules)
//! resolves `..`, `%2e%2e` and `.%2E` and reads `\` as `/`, and the services decode `%2f` and
//! unreserved escapes before matching. `/api/tokens/../../health/ready` would be matched as
//! rewards' and served as something else. Normalising here would be one more interpretation to
//! keep in step with theirs; refusing what is not normal leaves exactly one.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::Error;
use platform::Problem;

/// Why a path is not in normal form (the problem's `detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abnormal {
    NotAbsolute,
    DotSegment,
    EmptySegment,
    Backslash,
    ControlCharacter,
    BadEscape,
    EncodedUnreserved,
    EncodedSeparator,
    DoubleEncoding,
    /// Passed the checks yet would not reach the upstream unchanged (a character the URL parser
    /// escapes, say): refused rather than forwarded as a different path.
    Unforwardable,
}

impl Abnormal {
    fn detail(self) -> &'static str {
        match self {
            Abnormal::NotAbsolute => "the path must start with /",
            Abnormal::DotSegment => "`.` and `..` segments are not allowed",
            Abnormal::EmptySegment => "empty segments (`//`) are not allowed",
            Abnormal::Backslash => "`\\` is not allowed in a path",
            Abnormal::ControlCharacter => "control characters (NUL, CR, LF, ...) are not allowed in a path",
            Abnormal::BadEscape => "`%` must be followed by two hex digits",
            Abnormal::EncodedUnreserved => {
                "letters, digits, `-`, `.`, `_` and `~` must not be percent-encoded (`%2e` is `.`)"
            }
            Abnormal::EncodedSeparator => "`%2f` and `%5c` (encoded `/` and `\\`) are not allowed",
            Abnormal::DoubleEncoding => "`%25` (an encoded `%`) is not allowed",
            Abnormal::Unforwardable => "the path contains characters that must be percent-encoded",
        }
    }
}

/// Accept `path` only in normal form: absolute; no `.` or `..` segment; no empty segment except a
/// trailing slash; no `\`, control character or NUL, raw or escaped; no escape of an unreserved
/// character (RFC 3986 §6.2.2.2: `%2e` is `.`), of a separator (`%2f`, `%5c`) or of `%` itself
/// (`%252e` is `%2e` after one decoding).
pub fn check(path: &str) -> Result<(), Abnormal> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Abnormal::NotAbsolute);
    };
    check_bytes(path.as_bytes())?;
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => return Err(Abnormal::DotSegment),
            "" if i != last => return Err(Abnormal::EmptySegment),
            _ => {}
        }
    }
    Ok(())
}

fn check_bytes(bytes: &[u8]) -> Result<(), Abnormal> {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' => return Err(Abnormal::Backslash),
            _ if b.is_ascii_control() => return Err(Abnormal::ControlCharacter),
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|c| (*c as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                    return Err(Abnormal::BadEscape);
                };
                // Both digits are below 16, so this is at most 255.
                let decoded = (hi * 16 + lo) as u8;
                match decoded {
                    b'/' | b'\\' => return Err(Abnormal::EncodedSeparator),
                    b'%' => return Err(Abnormal::DoubleEncoding),
                    _ if decoded.is_ascii_control() => return Err(Abnormal::ControlCharacter),
                    _ if decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded) => {
                        return Err(Abnormal::EncodedUnreserved)
                    }
                    _ => {}
                }
                i += 3;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// 400 `invalid_path` for a path that is not in normal form.
pub fn problem(why: Abnormal) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_path", "The request path is not in normal form")
        .with_detail(why.detail())
}

/// Refuse, before any routing (the gateway's own routes included), a request whose path is not
/// in normal form.
pub async fn normal_paths_only(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Err(why) = check(req.path()) {
        tracing::info!(path = %req.path(), reason = ?why, "refused a path not in normal form");
        let res = actix_web::ResponseError::error_response(&problem(why));
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths_pass() {
        for ok in [
            "/api/tokens/balance",
            "/api/features/team.management",
            "/api/openapi.json",
            "/api/courses/list/",
            "/api/courses/caf%C3%A9",
            "/api/x/a%20b",
            "/api/x/..a/b..",
            "/api/x/...",
            "/",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn every_abnormal_spelling_is_refused() {
        use Abnormal::*;
        let cases = [
            ("api/tokens", NotAbsolute),
            ("", NotAbsolute),
            ("/api/tokens/../../health/ready", DotSegment),
            ("/api/tokens/./balance", DotSegment),
            ("/api/tokens/..", DotSegment),
            ("/api/tokens/.", DotSegment),
            ("/api/subscriptions/%2e%2e/%2e%2e/internal/features/check", EncodedUnreserved),
            ("/api/subscriptions/%2E%2E/internal", EncodedUnreserved),
            ("/api/subscriptions/.%2e/internal", EncodedUnreserved),
            ("/api/subscriptions/%2e./internal", EncodedUnreserved),
            ("/api/subscriptions/%2e/internal", EncodedUnreserved),
            ("/api/courses/%6dine", EncodedUnreserved),
            ("/api/tokens%2f..%2f..%2fhealth", EncodedSeparator),
            ("/api/tokens%2F..", EncodedSeparator),
            ("/api/tokens/..%5c..%5chealth", EncodedSeparator),
            ("/api/tokens/%5C", EncodedSeparator),
            ("/api/tokens\\..\\..\\health", Backslash),
            ("/api/tokens/%00", ControlCharacter),
            ("/api/tokens/a%0d%0aX-Injected:%201", ControlCharacter),
            ("/api/tokens/\0", ControlCharacter),
            ("/api/tokens/%252e%252e", DoubleEncoding),
            ("/api/tokens/%", BadEscape),
            ("/api/tokens/%2", BadEscape),
            ("/api/tokens/%zz", BadEscape),
            ("//api/tokens", EmptySegment),
            ("/api//tokens/balance", EmptySegment),
            ("/api/subscriptions//internal", EmptySegment),
        ];
        for (path, why) in cases {
            assert_eq!(check(path), Err(why), "{path}");
        }
    }
}
