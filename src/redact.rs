//! Secrets that ride inside URLs (`https://user:password@host/…`) never reach a log line, an error
//! message, an API answer or `config check`: every place that shows a URL, or text that may hold
//! one (an upstream client's error), passes it through here first.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What stands in for the user information of a URL.
pub const MASK: &str = "[redacted]";

/// A scheme, `://`, then user information up to an `@` that comes before the first `/`, `?`, `#`
/// or blank (RFC 3986 §3.2.1: userinfo ends at the `@` of the authority).
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s@]+@").expect("the userinfo pattern is valid")
});

/// `text` with the user information of every URL in it replaced by [`MASK`]; borrowed when there
/// is none.
pub fn urls_in(text: &str) -> Cow<'_, str> {
    USERINFO.replace_all(text, format!("${{1}}{MASK}@").as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_masked_and_the_rest_kept() {
        assert_eq!(
            urls_in("GET http://user:p%40ss@prom.example:9090/api/v1/query?x=1 failed"),
            "GET http://[redacted]@prom.example:9090/api/v1/query?x=1 failed"
        );
        assert_eq!(
            urls_in("https://token@api.github.com and HTTPS://a:b@h/"),
            "https://[redacted]@api.github.com and HTTPS://[redacted]@h/"
        );
    }

    #[test]
    fn urls_without_userinfo_and_plain_text_are_untouched() {
        for s in [
            "http://127.0.0.1:9090/api/v1/query?q=a@b",
            "mailto:ops@example.com",
            "no url here: user@host",
            "http://host/path#frag@x",
        ] {
            assert!(matches!(urls_in(s), Cow::Borrowed(_)), "{s}");
        }
    }
}
