//! Bugs on the read side: the stored bug issues, attributed against the delivery model, and
//! their weekly figures per scope (organisation, team, service).

use serde::Serialize;

use crate::analysis::bugs::{self, BugFacts, BugWeek};
use crate::analysis::dora::{DoraModel, Scope};
use crate::model::Bug;
use crate::store::{Store, StoreError};

use super::Settings;

/// Every stored bug, attributed to a service, a severity and the deployment it escaped.
pub fn bug_facts(
    store: &Store,
    model: &DoraModel,
    settings: &Settings,
) -> Result<Vec<BugFacts>, StoreError> {
    let stored: Vec<Bug> = store.events::<Bug>().collect::<Result<_, _>>()?;
    Ok(bugs::facts(&stored, model, &settings.bugs))
}

/// One scope's weeks.
#[derive(Debug, Clone, Serialize)]
pub struct BugSeries {
    /// The service, for a service.
    pub service: Option<String>,
    /// The team, for a team (its services pooled).
    pub team: Option<String>,
    /// The product, for a product (its services pooled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The weeks.
    pub weeks: Vec<BugWeek>,
}

/// The weekly bug figures of each scope.
pub fn bug_series(
    facts: &[BugFacts],
    scopes: &[Scope],
    weeks: &[i64],
    settings: &Settings,
) -> Vec<BugSeries> {
    let cal = settings.calendar;
    scopes
        .iter()
        .map(|scope| match scope {
            Scope::Org => BugSeries {
                service: None,
                team: None,
                product: None,
                weeks: bugs::weekly(facts, |_| true, weeks, cal),
            },
            Scope::Service(s) => BugSeries {
                service: Some(s.clone()),
                team: None,
                product: None,
                weeks: bugs::weekly(facts, |b| b.service.as_ref() == Some(s), weeks, cal),
            },
            Scope::Team { name, services } => BugSeries {
                service: None,
                team: Some(name.clone()),
                product: None,
                weeks: bugs::weekly(
                    facts,
                    |b| b.service.as_ref().is_some_and(|s| services.contains(s)),
                    weeks,
                    cal,
                ),
            },
        })
        .collect()
}

/// The weekly bug figures of a product: its services pooled, then each of them.
pub fn product_bug_series(
    facts: &[BugFacts],
    product: &crate::model::Product,
    weeks: &[i64],
    settings: &Settings,
) -> Vec<BugSeries> {
    let scopes: Vec<Scope> = std::iter::once(Scope::Team {
        name: product.name.clone(),
        services: product.services.clone(),
    })
    .chain(product.services.iter().map(|s| Scope::Service(s.clone())))
    .collect();
    let mut out = bug_series(facts, &scopes, weeks, settings);
    if let Some(first) = out.first_mut() {
        first.product = first.team.take();
    }
    out
}
