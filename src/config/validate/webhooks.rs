//! `[webhooks]` and the names of the variables holding webhook secrets.

use super::super::raw::RawWebhooks;
use super::*;

/// GitHub's own cap on a webhook payload (GitHub docs, "Webhook events and payloads").
const MAX_BODY: u64 = 25 << 20;

impl Validator<'_> {
    /// A key naming an environment variable: what a shell accepts (letters, digits and `_`, not
    /// starting with a digit), never the secret itself. Shared by every `*_env` key.
    pub(super) fn env_name(&mut self, key: &str, name: &str) {
        let ok = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            // The value may be a secret pasted by mistake: never quote it.
            self.problem(
                key,
                "is not an environment variable name (it names the variable that holds the \
                 secret, not the secret)",
            );
        }
    }

    pub(super) fn webhooks(&mut self, raw: RawWebhooks) -> InboundWebhooksConfig {
        if !(1024..=MAX_BODY).contains(&raw.max_body_bytes) {
            self.problem(
                "webhooks.max_body_bytes",
                format!(
                    "{} must be between 1024 and {MAX_BODY} bytes (GitHub's own limit)",
                    raw.max_body_bytes
                ),
            );
        }
        self.env_name("webhooks.events_token_env", &raw.events_token_env);
        InboundWebhooksConfig {
            max_body_bytes: raw.max_body_bytes.clamp(1024, MAX_BODY),
            events_token_env: raw.events_token_env,
        }
    }
}
