//! Guards in front of the routes: the bearer token, and no state change from another site.
//!
//! Without `server.api_token` (the default) the daemon trusts whoever reaches its loopback port,
//! but a browser visiting any other site can still be made to send a "simple" cross-site POST
//! (`text/plain`, no preflight) to it. Browsers say where a request comes from (`Sec-Fetch-Site`
//! on every request since 2020, `Origin` on every POST), so a state-changing request that a browser
//! marks as cross-site is refused; clients that are not browsers (curl, scripts, Prometheus) send
//! neither header and are not affected (OWASP CSRF Prevention Cheat Sheet, "Fetch Metadata" and
//! "Verifying Origin with standard headers").

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `given` is the configured token. Both sides are hashed first, so the comparison runs
/// over 32 bytes whatever their lengths, in constant time: neither a prefix nor the length leaks
/// through timing.
pub fn token_matches(given: &str, want: &str) -> bool {
    let g = Sha256::digest(given.as_bytes());
    let w = Sha256::digest(want.as_bytes());
    g.ct_eq(&w).into()
}

/// Why a request may not change state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrossSite {
    /// The browser marked it as sent from another site.
    #[error("cross-site request refused: Sec-Fetch-Site is {0:?}; state-changing routes accept only same-origin requests")]
    FetchSite(String),
    /// Its `Origin` is not this server.
    #[error("cross-site request refused: Origin {0:?} is not this server; state-changing routes accept only same-origin requests")]
    Origin(String),
}

/// Methods that change nothing (RFC 9110 §9.2.1 "safe"): never refused.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks that a state-changing request does not come from another site.
pub fn same_origin(req: &Request) -> Result<(), CrossSite> {
    if is_safe(req.method()) {
        return Ok(());
    }
    check_headers(req.headers())
}

fn check_headers(headers: &HeaderMap) -> Result<(), CrossSite> {
    // Quoted at most 200 bytes (a longer value can only fail the checks below).
    let text = |name| {
        headers
            .get(name)
            .map(|v| crate::quote::excerpt(&String::from_utf8_lossy(v.as_bytes())))
    };
    // "none": typed in the address bar or a bookmark; "same-origin": a page of this daemon.
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(CrossSite::FetchSite(site));
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let host = text(header::HOST.as_str()).unwrap_or_default();
        // An Origin is `scheme://host[:port]`; it must name the host the request was sent to.
        // "null" (sandboxed frames, file: pages) is never this server.
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        if origin_host.is_none_or(|h| !h.eq_ignore_ascii_case(&host)) {
            return Err(CrossSite::Origin(origin));
        }
    }
    Ok(())
}

/// The media types a revenue import accepts: a CSV body (RFC 7111 `text/csv`) or a
/// `multipart/form-data` upload. Anything else, `text/plain` above all (what a cross-site form
/// can send without a preflight), is refused with 415.
pub fn import_media_type(headers: &HeaderMap) -> Result<ImportBody, String> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" | "application/csv" => Ok(ImportBody::Csv),
        "multipart/form-data" => Ok(ImportBody::Multipart),
        _ => {
            let shown = crate::quote::excerpt(&raw);
            Err(format!(
                "Content-Type {shown:?} is not accepted: send the CSV as text/csv or as a multipart/form-data file"
            ))
        }
    }
}

/// How an import's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportBody {
    /// The body is the CSV file.
    Csv,
    /// The body is `multipart/form-data`; its first file part is the CSV.
    Multipart,
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", "s3cret"));
        assert!(!token_matches("s3cret-and-more", "s3cret"));
    }

    #[test]
    fn browsers_from_other_sites_are_refused_and_other_clients_pass() {
        // curl, scripts: neither header.
        assert_eq!(
            check_headers(&headers(&[("host", "127.0.0.1:9750")])),
            Ok(())
        );
        // A page of the daemon itself.
        assert_eq!(
            check_headers(&headers(&[
                ("host", "127.0.0.1:9750"),
                ("origin", "http://127.0.0.1:9750"),
                ("sec-fetch-site", "same-origin"),
            ])),
            Ok(())
        );
        // Another site.
        assert!(matches!(
            check_headers(&headers(&[
                ("host", "127.0.0.1:9750"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ])),
            Err(CrossSite::FetchSite(_))
        ));
        // Older browsers: Origin alone decides; "null" is never this server.
        for origin in ["https://evil.example", "null", "http://127.0.0.1:9751"] {
            assert!(
                matches!(
                    check_headers(&headers(&[("host", "127.0.0.1:9750"), ("origin", origin)])),
                    Err(CrossSite::Origin(_))
                ),
                "{origin}"
            );
        }
        // Same site but another origin (another port of localhost) is still another origin.
        assert!(check_headers(&headers(&[("sec-fetch-site", "same-site")])).is_err());
    }

    #[test]
    fn imports_take_csv_or_multipart_only() {
        let ct = |v| import_media_type(&headers(&[("content-type", v)]));
        assert_eq!(ct("text/csv; charset=utf-8"), Ok(ImportBody::Csv));
        assert_eq!(ct("Text/CSV"), Ok(ImportBody::Csv));
        assert_eq!(
            ct("multipart/form-data; boundary=x"),
            Ok(ImportBody::Multipart)
        );
        assert!(ct("text/plain").unwrap_err().contains("text/plain"));
        assert!(import_media_type(&HeaderMap::new()).is_err());
    }
}
