//! Closed vocabularies the weekly view and the pressure index report in, serialised as the
//! strings clients already read.

use std::fmt;

use serde::{Serialize, Serializer};

/// How much of a week a signal's value rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Coverage {
    /// The whole week.
    #[serde(rename = "complete")]
    Complete,
    /// The week is not over yet (or the source covered only part of it).
    #[serde(rename = "partial week")]
    PartialWeek,
    /// Carried from an earlier month that is still recent enough (revenue).
    #[serde(rename = "stale")]
    Stale,
    /// No data.
    #[serde(rename = "missing")]
    Missing,
}

impl Coverage {
    /// The name clients read.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Complete => "complete",
            Coverage::PartialWeek => "partial week",
            Coverage::Stale => "stale",
            Coverage::Missing => "missing",
        }
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the pressure index scored a week, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PressureStatus {
    /// Scored.
    Scored,
    /// Fewer scored weeks than the index needs before it reports a number.
    WarmingUp {
        /// Weeks scored so far.
        scored: usize,
        /// Weeks needed.
        needed: usize,
    },
    /// The current, incomplete week.
    PartialWeek,
    /// Too few signals to score.
    InsufficientData,
    /// The scope has no index at all: the pressure index is the organisation's, so a service's
    /// weeks carry none. The default, so that a row nobody scored never claims a reason.
    #[default]
    NoIndex,
}

impl fmt::Display for PressureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PressureStatus::Scored => f.write_str("scored"),
            PressureStatus::WarmingUp { scored, needed } => {
                write!(f, "warming up ({scored}/{needed})")
            }
            PressureStatus::PartialWeek => f.write_str("partial week"),
            PressureStatus::InsufficientData => f.write_str("insufficient data"),
            // The placeholder the report tables and CSV have always printed for a service.
            PressureStatus::NoIndex => f.write_str("-"),
        }
    }
}

impl Serialize for PressureStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What made the pressure index change regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ShiftTrigger {
    /// The change statistic of the combined component evidence crossed its threshold with
    /// enough components agreeing.
    #[serde(rename = "evidence")]
    Evidence,
    /// An SLO's error budget ran out (the SRE error-budget policy forces resilience).
    #[serde(rename = "error budget exhausted")]
    BudgetExhausted,
}

impl ShiftTrigger {
    /// The name clients read.
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftTrigger::Evidence => "evidence",
            ShiftTrigger::BudgetExhausted => "error budget exhausted",
        }
    }
}

/// Why the pressure index's regime was forced whatever its evidence said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Forced {
    /// An SLO's error budget ran out: the SRE workbook's error-budget policy stops feature work
    /// until the service is back within its SLO.
    #[serde(rename = "error budget exhausted")]
    BudgetExhausted,
}

impl fmt::Display for Forced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Forced::BudgetExhausted => "error budget exhausted",
        })
    }
}

impl fmt::Display for ShiftTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialise_as_the_strings_clients_read() {
        let json = |v: &dyn erased::Ser| v.json();
        assert_eq!(json(&Coverage::PartialWeek), "\"partial week\"");
        assert_eq!(
            json(&PressureStatus::WarmingUp {
                scored: 3,
                needed: 12
            }),
            "\"warming up (3/12)\""
        );
        assert_eq!(
            json(&ShiftTrigger::BudgetExhausted),
            "\"error budget exhausted\""
        );
        for (status, text) in [
            (PressureStatus::Scored, "scored"),
            (PressureStatus::PartialWeek, "partial week"),
            (PressureStatus::InsufficientData, "insufficient data"),
            (PressureStatus::NoIndex, "-"),
        ] {
            assert_eq!(json(&status), format!("{text:?}"));
        }
        for t in [ShiftTrigger::Evidence, ShiftTrigger::BudgetExhausted] {
            assert_eq!(json(&t), format!("{:?}", t.as_str()));
        }
        for c in [
            Coverage::Complete,
            Coverage::PartialWeek,
            Coverage::Stale,
            Coverage::Missing,
        ] {
            assert_eq!(json(&c), format!("{:?}", c.as_str()));
        }
    }

    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).expect("serialisable")
            }
        }
    }
}
