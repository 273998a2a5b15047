//! `[github.app]`: a GitHub App's id, key file and installations (docs/webhooks.md).

use std::path::{Path, PathBuf};

use super::super::raw::RawGithubApp;
use super::super::AppKey;
use super::*;

/// A GitHub App key is about 1.7 KB; anything much larger is not one.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// Why a key file cannot serve. Never carries anything read from the file.
fn read_key(path: &Path) -> Result<AppKey, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.len() > MAX_KEY_BYTES {
        return Err(format!(
            "{shown} has {} bytes: not a private key (at most {MAX_KEY_BYTES})",
            meta.len()
        ));
    }
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let not_a_key = || {
        format!(
            "{shown} does not hold an RSA private key in PEM format (the file GitHub's \
             \"Generate a private key\" downloads)"
        )
    };
    // The parser's own error is left out: it may quote a piece of the file.
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|_| not_a_key())?;
    // Parsing accepts an RSA *public* key and checks no more than the PEM armour: only
    // signing a JWT, as the App will, shows the key serves.
    let probe = serde_json::json!({ "iss": 1, "iat": 0, "exp": 1 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &probe,
        &key,
    )
    .map_err(|_| not_a_key())?;
    Ok(AppKey::new(key))
}

impl Validator<'_> {
    /// The id is positive and the key file readable, holding an RSA private key in PEM (as
    /// GitHub issues them) that can sign: checked now, so that `config check` catches a wrong
    /// file before the daemon needs it. Nothing of the key's content is ever quoted. `None`
    /// (with the problem recorded) when the key cannot serve.
    pub(super) fn github_app(&mut self, raw: Option<RawGithubApp>) -> Option<GithubApp> {
        let raw = raw?;
        let id = u64::try_from(raw.id).ok().filter(|id| *id > 0);
        if id.is_none() {
            self.problem(
                "github.app.id",
                format!("{} is not a GitHub App id", raw.id),
            );
        }
        let private_key_path = PathBuf::from(raw.private_key_path.trim());
        let key = read_key(&private_key_path)
            .map_err(|why| self.problem("github.app.private_key_path", why))
            .ok();
        let mut installation_ids = Vec::new();
        for (i, v) in raw.installation_ids.iter().enumerate() {
            match u64::try_from(*v).ok().filter(|v| *v > 0) {
                Some(v) if !installation_ids.contains(&v) => installation_ids.push(v),
                Some(v) => self.problem(
                    &format!("github.app.installation_ids[{i}]"),
                    format!("{v} is listed twice"),
                ),
                None => self.problem(
                    &format!("github.app.installation_ids[{i}]"),
                    format!("{v} is not an installation id"),
                ),
            }
        }
        Some(GithubApp {
            id: id?,
            private_key_path,
            key: key?,
            installation_ids,
        })
    }
}
