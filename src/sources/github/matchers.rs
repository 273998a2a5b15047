//! The services' deployment patterns (environment, workflow, release tag), compiled once by
//! `App::build` and shared by every sync, rather than per sync, repository or listing.

use regex::Regex;

use crate::config::{DeploymentsFrom, GithubService};

/// A service pattern that does not compile. Validation checks every pattern, so this names a
/// configuration built without it (a test, a library caller) instead of hiding the service.
#[derive(Debug, thiserror::Error)]
#[error("github service {service:?}: {key}: {source}")]
pub struct PatternError {
    /// The service.
    pub service: String,
    /// The configuration key of the pattern.
    pub key: &'static str,
    /// Why it does not compile.
    #[source]
    pub source: regex::Error,
}

/// One service's pattern for the place its deployments come from.
struct Matcher {
    repo: String,
    service: String,
    from: DeploymentsFrom,
    re: Regex,
}

/// Every service's deployment pattern.
pub struct Matchers(Vec<Matcher>);

impl Matchers {
    /// Compiles the pattern each service uses: the environment (anchored: `production` must not
    /// match `production-canary`), the workflow name or path, or the release tag.
    pub fn compile(services: &[GithubService]) -> Result<Self, PatternError> {
        services
            .iter()
            .map(|s| {
                let (key, pattern) = match s.deployments_from {
                    DeploymentsFrom::Deployments => {
                        ("environment", format!("^(?:{})$", s.environment))
                    }
                    DeploymentsFrom::WorkflowRuns => ("workflow", s.workflow.clone()),
                    DeploymentsFrom::Releases => ("release_pattern", s.release_pattern.clone()),
                };
                let re = Regex::new(&pattern).map_err(|source| PatternError {
                    service: s.name.clone(),
                    key,
                    source,
                })?;
                Ok(Matcher {
                    repo: s.repo.clone(),
                    service: s.name.clone(),
                    from: s.deployments_from.clone(),
                    re,
                })
            })
            .collect::<Result<_, _>>()
            .map(Matchers)
    }

    /// The first service of `repo` taking deployments `from` whose pattern matches any of
    /// `texts`, in configuration order.
    pub(super) fn service(
        &self,
        repo: &str,
        from: &DeploymentsFrom,
        texts: &[&str],
    ) -> Option<&str> {
        self.0
            .iter()
            .filter(|m| m.repo == repo && m.from == *from)
            .find(|m| texts.iter().any(|t| m.re.is_match(t)))
            .map(|m| m.service.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, from: DeploymentsFrom, pattern: &str) -> GithubService {
        GithubService {
            name: name.into(),
            repo: "acme/shop".into(),
            paths: Vec::new(),
            deployments_from: from,
            environment: pattern.into(),
            workflow: pattern.into(),
            release_pattern: pattern.into(),
        }
    }

    #[test]
    fn environments_match_whole_names_and_bad_patterns_are_named() {
        let m = Matchers::compile(&[service("api", DeploymentsFrom::Deployments, "production")])
            .expect("compiles");
        let env = DeploymentsFrom::Deployments;
        assert_eq!(m.service("acme/shop", &env, &["production"]), Some("api"));
        assert_eq!(m.service("acme/shop", &env, &["production-canary"]), None);
        assert_eq!(m.service("acme/other", &env, &["production"]), None);

        let err = Matchers::compile(&[service("web", DeploymentsFrom::Releases, "v(")])
            .err()
            .expect("a bad pattern fails");
        assert_eq!((err.service.as_str(), err.key), ("web", "release_pattern"));
    }
}
