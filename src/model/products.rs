//! Products: what is sold, the services it runs on and the revenue (segments, plans) that
//! belongs to it. Each product gets its own weekly view and pressure index beside the
//! organisation's.

use serde::Serialize;

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Its name.
    pub name: String,
    /// The services it runs on.
    pub services: Vec<String>,
    /// The revenue segments that belong to it.
    pub segments: Vec<String>,
    /// The revenue plans that belong to it.
    pub plans: Vec<String>,
}

impl Product {
    /// Whether a customer whose latest segment and plan are these belongs to the product.
    pub fn owns_revenue(&self, segment: Option<&str>, plan: Option<&str>) -> bool {
        segment.is_some_and(|s| self.segments.iter().any(|x| x == s))
            || plan.is_some_and(|p| self.plans.iter().any(|x| x == p))
    }

    /// What the product lacks to be analysed on both sides, in words (empty when nothing).
    pub fn missing_sides(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.services.is_empty() {
            out.push("services: no service is configured, so delivery and reliability are missing");
        }
        if self.segments.is_empty() && self.plans.is_empty() {
            out.push("revenue: no segment or plan is configured, so revenue is missing");
        }
        out
    }
}

/// Every product, in configuration order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Products(Vec<Product>);

impl Products {
    /// Products in the given order.
    pub fn new(products: Vec<Product>) -> Self {
        Self(products)
    }

    /// Whether any is defined.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The products, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Product> {
        self.0.iter()
    }

    /// A product by name.
    pub fn get(&self, name: &str) -> Option<&Product> {
        self.0.iter().find(|p| p.name == name)
    }

    /// The names, comma-separated (or "none configured").
    pub fn names(&self) -> String {
        if self.0.is_empty() {
            "none configured".to_owned()
        } else {
            self.0
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}
