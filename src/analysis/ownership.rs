//! Ownership derived from a repository's `CODEOWNERS`: which services a team owns when
//! `[[teams]]` names its GitHub team slugs (or other `CODEOWNERS` owners) instead of, or besides,
//! its services (docs/teams.md).
//!
//! The parser follows GitHub's documented syntax ("About code owners"): one rule per line, a
//! pattern then its owners (`@user`, `@org/team`, an e-mail); `#` starts a comment, `\#` escapes
//! a pattern that starts with one; patterns follow `.gitignore` rules (a leading `/` or a `/`
//! inside anchors the pattern at the root, otherwise it matches at any depth; `*` stays within
//! one path segment, `**` crosses them; a pattern that matches a directory covers everything
//! under it) except that `!` negation and `[ ]` ranges are not supported — GitHub skips such
//! lines, and so does this parser, naming them. The **last** matching rule wins; a rule without
//! owners leaves its paths without an owner.
//!
//! The `codeowners` crate (0.1.3, 2019) was considered: unmaintained, and it applies the first
//! matching rule rather than GitHub's last; `globset`, already a dependency, does the matching.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobMatcher};
use serde::Serialize;

use crate::model::teams::{OwnershipConflict, Team, Teams};

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based line in the file.
    pub line: usize,
    /// The pattern as written.
    pub pattern: String,
    /// The owners as written.
    pub owners: Vec<String>,
    matcher: GlobMatcher,
    dir_only: bool,
    catch_all: bool,
}

/// A line that was skipped, and why (GitHub skips it too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// 1-based line.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// A parsed `CODEOWNERS` file.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Lines skipped.
    pub skipped: Vec<Skipped>,
}

/// Patterns that cover every path of the repository, its root included.
const CATCH_ALL: &[&str] = &["*", "**", "**/*", "/*", "/**", "/**/*"];

/// Splits a line into whitespace-separated fields, keeping `\ ` (an escaped space) inside a
/// pattern and `\#` as a literal `#`.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ (' ' | '#')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            '#' if cur.is_empty() => break,
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl CodeOwners {
    /// Parses `text`; lines GitHub would skip are kept in [`CodeOwners::skipped`].
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let f = fields(raw);
            let Some((pattern, owners)) = f.split_first() else {
                continue;
            };
            let skip = |reason: &str| Skipped {
                line,
                reason: format!(
                    "{:?}: {reason}",
                    pattern.chars().take(200).collect::<String>()
                ),
            };
            if pattern.starts_with('!') {
                out.skipped
                    .push(skip("negation (!) is not supported in CODEOWNERS"));
                continue;
            }
            if pattern.contains('[') {
                out.skipped.push(skip(
                    "character ranges ([ ]) are not supported in CODEOWNERS",
                ));
                continue;
            }
            match Self::rule(line, pattern, owners) {
                Ok(r) => out.rules.push(r),
                Err(e) => out.skipped.push(skip(&e.to_string())),
            }
        }
        out
    }

    fn rule(line: usize, pattern: &str, owners: &[String]) -> Result<Rule, globset::Error> {
        let dir_only = pattern.ends_with('/') && pattern.len() > 1;
        let trimmed = pattern.trim_end_matches('/');
        // gitignore: a slash at the start or in the middle anchors the pattern at the root.
        let anchored = trimmed.contains('/');
        let body = trimmed.trim_start_matches('/');
        let glob = if anchored || body.starts_with("**") {
            body.to_owned()
        } else {
            format!("**/{body}")
        };
        let matcher = GlobBuilder::new(&glob)
            .literal_separator(true)
            .build()?
            .compile_matcher();
        Ok(Rule {
            line,
            pattern: pattern.to_owned(),
            owners: owners.to_vec(),
            matcher,
            dir_only,
            catch_all: CATCH_ALL.contains(&pattern),
        })
    }

    /// The rule that decides the owners of the directory `dir` (relative to the root, `""` for
    /// the whole repository): the last rule that matches the directory or one of its ancestors
    /// (a matched directory covers everything under it), or, for the root, the last catch-all
    /// rule (`*`, `**`, `/**` …). A rule that matches only some files under `dir` (`*.js`,
    /// `dir/*`) does not decide the directory's owner.
    pub fn rule_for_dir(&self, dir: &str) -> Option<&Rule> {
        let dir = dir.trim_matches('/');
        let mut ancestors: Vec<&str> = Vec::new();
        if !dir.is_empty() {
            ancestors.push(dir);
            let mut rest = dir;
            while let Some((head, _)) = rest.rsplit_once('/') {
                ancestors.push(head);
                rest = head;
            }
        }
        self.rules
            .iter()
            .rev()
            .find(|r| r.catch_all || ancestors.iter().any(|a| r.matcher.is_match(a)))
    }

    /// The owners of a file at `path`: the last rule matching the file or a directory above it.
    pub fn rule_for_file(&self, path: &str) -> Option<&Rule> {
        let path = path.trim_start_matches('/');
        self.rules.iter().rev().find(|r| {
            (!r.dir_only && r.matcher.is_match(path)) || {
                let mut rest = path;
                let mut hit = false;
                while let Some((head, _)) = rest.rsplit_once('/') {
                    if r.matcher.is_match(head) {
                        hit = true;
                        break;
                    }
                    rest = head;
                }
                hit
            }
        })
    }
}

/// Where a service lives: its repository and the directory its paths start in (`""` for a
/// whole-repository service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLocation {
    /// The service.
    pub service: String,
    /// `owner/name`.
    pub repo: String,
    /// The directory, relative to the repository's root.
    pub dir: String,
}

/// The directory a service's path globs start in: the literal part of its first glob, up to the
/// last `/` before the first wildcard (`services/billing/**` → `services/billing`); `""` when it
/// has no paths (the whole repository).
pub fn service_dir(paths: &[String]) -> String {
    let Some(first) = paths.first() else {
        return String::new();
    };
    let literal = first
        .find(['*', '?', '[', '{'])
        .map_or(first.as_str(), |i| &first[..i]);
    let dir = if literal.len() < first.len() {
        literal.rsplit_once('/').map_or("", |(d, _)| d)
    } else {
        literal
    };
    dir.trim_matches('/').to_owned()
}

/// The owner handles that stand for a team in `CODEOWNERS`: `@org/slug` for each GitHub team,
/// then its `codeowners` entries as written. GitHub handles and e-mails are case-insensitive.
fn handles(team: &Team) -> Vec<String> {
    team.github_teams
        .iter()
        .map(|s| format!("@{s}"))
        .chain(team.codeowners.iter().cloned())
        .map(|h| h.to_lowercase())
        .collect()
}

/// Every team with the services it owns: those configured, plus those whose `CODEOWNERS` owners
/// include one of its handles. The configuration wins: a service a team lists keeps that team,
/// whatever `CODEOWNERS` says. A service whose owners match two or more teams is given to none
/// and reported as a conflict naming both (it is then listed as unowned, never dropped).
/// `files` maps a repository to its parsed `CODEOWNERS`.
pub fn derive(
    teams: Vec<Team>,
    services: &[ServiceLocation],
    files: &BTreeMap<String, CodeOwners>,
) -> Teams {
    let configured: Vec<&str> = teams
        .iter()
        .flat_map(|t| t.services.iter().map(String::as_str))
        .collect();
    let handles: Vec<Vec<String>> = teams.iter().map(handles).collect();
    let mut derived: Vec<Vec<String>> = vec![Vec::new(); teams.len()];
    let mut conflicts = Vec::new();
    for s in services {
        if configured.contains(&s.service.as_str()) {
            continue;
        }
        let Some(rule) = files.get(&s.repo).and_then(|f| f.rule_for_dir(&s.dir)) else {
            continue;
        };
        let owners: Vec<String> = rule.owners.iter().map(|o| o.to_lowercase()).collect();
        let claims: Vec<usize> = handles
            .iter()
            .enumerate()
            .filter(|(_, h)| h.iter().any(|x| owners.contains(x)))
            .map(|(i, _)| i)
            .collect();
        match claims.as_slice() {
            [] => {}
            [one] => derived[*one].push(s.service.clone()),
            [a, b, ..] => conflicts.push(OwnershipConflict {
                service: s.service.clone(),
                teams: [teams[*a].name.clone(), teams[*b].name.clone()],
                source: format!(
                    "CODEOWNERS of {}, line {}: {} {}",
                    s.repo,
                    rule.line,
                    rule.pattern,
                    rule.owners.join(" ")
                ),
            }),
        }
    }
    let teams = teams
        .into_iter()
        .zip(derived)
        .map(|(mut t, d)| {
            t.services.extend(d.iter().cloned());
            t.derived = d;
            t
        })
        .collect();
    Teams::new(teams).with_conflicts(conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's own example file ("About code owners"), abridged, with the owners each line
    /// gives.
    const EXAMPLE: &str = "\
# This is a comment.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
!/secret/ @nobody
/ranges/[ab] @nobody
\\#hash @hashes
";

    fn owners(r: Option<&Rule>) -> Vec<&str> {
        r.map(|r| r.owners.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn files_take_the_last_matching_rule() {
        let c = CodeOwners::parse(EXAMPLE);
        // Only the catch-all matches: line 2.
        assert_eq!(
            owners(c.rule_for_file("README.md")),
            ["@global-owner1", "@global-owner2"]
        );
        // *.js (line 3) is later than * (line 2); the inline comment is not an owner.
        assert_eq!(owners(c.rule_for_file("src/app.js")), ["@js-owner"]);
        // /build/logs/ (line 4), then **/logs (line 9) matches the same directory: last wins.
        assert_eq!(owners(c.rule_for_file("build/logs/x.log")), ["@octocat"]);
        // docs/* is anchored (a slash inside): docs/a.md, but /docs/ (line 7) comes later.
        assert_eq!(owners(c.rule_for_file("docs/a.md")), ["@doctocat"]);
        // apps/ matches at any depth (line 6), /apps/ (line 10) at the root, then /apps/github
        // (line 11) has no owners: that subtree is unowned.
        assert_eq!(owners(c.rule_for_file("x/apps/a.rs")), ["@octocat"]);
        assert_eq!(owners(c.rule_for_file("apps/a.rs")), ["@octocat"]);
        let gh = c.rule_for_file("apps/github/a.rs").expect("a rule");
        assert_eq!((gh.line, gh.owners.len()), (11, 0));
        // \#hash is the literal file "#hash".
        assert_eq!(owners(c.rule_for_file("#hash")), ["@hashes"]);
        // Negation and ranges are skipped, naming their lines.
        let lines: Vec<usize> = c.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [12, 13]);
        assert!(c.skipped[0].reason.contains("negation"), "{:?}", c.skipped);
    }

    #[test]
    fn a_directory_takes_the_last_rule_that_covers_all_of_it() {
        let c = CodeOwners::parse(
            "* @acme/all\n*.js @acme/js\n/services/billing/ @acme/payments\n\
             services/api/* @acme/api-files\n/services/ @acme/platform\n",
        );
        // The root: only a catch-all decides it.
        assert_eq!(owners(c.rule_for_dir("")), ["@acme/all"]);
        // /services/ (line 5) is later than /services/billing/ (line 3) and covers it.
        assert_eq!(
            owners(c.rule_for_dir("services/billing")),
            ["@acme/platform"]
        );
        // services/api/* covers the files in it, not the directory: /services/ decides.
        assert_eq!(owners(c.rule_for_dir("services/api")), ["@acme/platform"]);
        // *.js never decides a directory; elsewhere the catch-all does.
        assert_eq!(owners(c.rule_for_dir("web")), ["@acme/all"]);
        assert!(CodeOwners::parse("*.js @a\n").rule_for_dir("web").is_none());
    }

    #[test]
    fn a_services_directory_is_the_literal_start_of_its_first_glob() {
        let dir = |p: &[&str]| service_dir(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(dir(&["services/billing/**"]), "services/billing");
        assert_eq!(dir(&["/services/bill*/**"]), "services");
        assert_eq!(dir(&["services/api/"]), "services/api");
        assert_eq!(dir(&["**/*.rs"]), "");
        assert_eq!(dir(&[]), "");
    }

    fn team(name: &str, services: &[&str], github: &[&str], codeowners: &[&str]) -> Team {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect();
        Team {
            name: name.into(),
            services: v(services),
            github_teams: v(github),
            codeowners: v(codeowners),
            derived: Vec::new(),
        }
    }

    fn at(service: &str, dir: &str) -> ServiceLocation {
        ServiceLocation {
            service: service.into(),
            repo: "acme/shop".into(),
            dir: dir.into(),
        }
    }

    #[test]
    fn config_wins_conflicts_are_named_and_the_rest_stays_unowned() {
        let file = CodeOwners::parse(
            "/services/billing/ @Acme/Payments\n\
             /services/api/ @acme/platform\n\
             /services/search/ @acme/platform @acme/web\n\
             /services/mobile/ @alice\n\
             /services/ledger/ @acme/payments\n",
        );
        let files = BTreeMap::from([("acme/shop".to_owned(), file)]);
        let teams = derive(
            vec![
                // Lists api itself: the configuration keeps api with web, though CODEOWNERS
                // says platform.
                team("web", &["api"], &["acme/web"], &[]),
                team("platform", &[], &["acme/platform"], &[]),
                team("payments", &[], &["acme/payments"], &[]),
                team("apps", &[], &[], &["@alice"]),
            ],
            &[
                at("billing", "services/billing"),
                at("api", "services/api"),
                at("search", "services/search"),
                at("mobile", "services/mobile"),
                at("ledger", "services/ledger"),
                at("docs", "docs"),
            ],
            &files,
        );
        let owner = |s: &str| teams.owner_of(s).map(|t| t.name.as_str());
        // Handles are matched case-insensitively.
        assert_eq!(owner("billing"), Some("payments"));
        assert_eq!(owner("ledger"), Some("payments"));
        assert_eq!(owner("api"), Some("web"));
        assert_eq!(owner("mobile"), Some("apps"));
        // Claimed by platform and web: given to neither, named with both.
        assert_eq!(owner("search"), None);
        assert_eq!(owner("docs"), None);
        let c = teams.conflicts();
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].to_string(),
            "service \"search\" is owned by both \"web\" and \"platform\" \
             (CODEOWNERS of acme/shop, line 3: /services/search/ @acme/platform @acme/web)"
        );
        assert_eq!(
            teams.unowned(["billing", "search", "docs"]),
            vec!["search", "docs"]
        );
        let payments = teams.get("payments").expect("payments");
        assert_eq!(payments.derived, ["billing", "ledger"]);
        assert!(teams.get("platform").expect("platform").services.is_empty());
    }
}
