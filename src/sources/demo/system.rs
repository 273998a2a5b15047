//! The demo organisation's system map: its four delivered services (storefront, mobile, api,
//! billing) with what they run on — a shared orders database, a search index, an event queue,
//! two internal services and three external APIs, among them the payment provider.
//!
//! Its weak spots follow the demo's story: the shared database sits under most services, the
//! payment API is the one way billing gets paid, and the CDN is owned by no team.

use crate::model::{Component, ComponentKind, SystemModel};

/// The demo's components (thirteen), used when no `[system]` is configured and the demo is in
/// the store.
pub fn system() -> SystemModel {
    use ComponentKind::*;
    let c =
        |name: &str, kind, team: Option<&str>, product: Option<&str>, deps: &[&str]| Component {
            name: name.to_owned(),
            kind,
            team: team.map(str::to_owned),
            product: product.map(str::to_owned),
            service: name.to_owned(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            latency_objective: None,
            origin: "demo".to_owned(),
        };
    let mut components = vec![
        c(
            "storefront",
            Frontend,
            Some("web"),
            Some("shop"),
            &["api", "cdn"],
        ),
        c("mobile", Frontend, Some("web"), Some("shop"), &["api"]),
        c(
            "api",
            Service,
            Some("platform"),
            Some("shop"),
            &["auth", "search", "orders-db", "events"],
        ),
        c(
            "auth",
            Service,
            Some("platform"),
            Some("shop"),
            &["orders-db"],
        ),
        c(
            "search",
            Service,
            Some("platform"),
            Some("shop"),
            &["search-index"],
        ),
        c(
            "billing",
            Service,
            Some("payments"),
            Some("invoicing"),
            &["orders-db", "payment-provider", "events"],
        ),
        c(
            "notifications",
            Service,
            Some("web"),
            Some("shop"),
            &["events", "email-provider"],
        ),
        c("orders-db", Database, Some("platform"), None, &[]),
        c("search-index", Database, Some("platform"), None, &[]),
        c("events", Queue, Some("platform"), None, &[]),
        c("payment-provider", ExternalApi, Some("payments"), None, &[]),
        c("email-provider", ExternalApi, Some("web"), None, &[]),
        c("cdn", ExternalApi, None, Some("shop"), &[]),
    ];
    // p95 objectives of the delivered services (seconds, the demo's `latency_p95`): the
    // storefront's is the tightest, and its latency drifts above it as the demo strains.
    for c in &mut components {
        c.latency_objective = match c.name.as_str() {
            "storefront" => Some(0.3),
            "mobile" | "api" | "billing" => Some(0.4),
            _ => None,
        };
    }
    // A fixed model, checked by the test below; an empty map rather than a panic if it breaks.
    SystemModel::new(components).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_model_is_valid() {
        let components = super::system().components().len();
        assert_eq!(components, 13);
    }
}
