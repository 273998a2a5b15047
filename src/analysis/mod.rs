//! Pure analysis over slices read from the store: no I/O, no clocks, no globals; the calendar
//! comes in with the settings.

pub mod bugs;
pub mod changepoints;
pub mod correlate;
pub mod cost;
pub mod dora;
pub mod ownership;
pub mod pressure;
pub mod reliability;
pub mod revenue;
pub mod support;
pub mod system;
pub mod trend;
pub mod weekly;

pub use crate::model::calendar::{week_start_at, Calendar, DAY_MS, WEEK_MS};

/// The median (the mean of the two middle values for an even count); sorts `v`.
pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `f` over `items` on every available core (scoped threads, contiguous chunks), results in
/// order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod vocabulary_tests {
    /// The configuration validates against the vocabulary's lists; the analysis owns the tables
    /// and the components. They must say the same.
    #[test]
    fn the_vocabulary_lists_match_the_analysis() {
        assert_eq!(
            super::dora::bands::years(),
            crate::model::dora::REPORT_YEARS
        );
        let names: Vec<&str> = super::pressure::Component::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(names, crate::model::dora::PRESSURE_COMPONENTS);
    }
}
